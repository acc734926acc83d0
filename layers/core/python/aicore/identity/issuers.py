"""Trusted issuers: someone else's tokens (a game's own auth, Cognito, Steam or Epic through an OIDC
bridge) that `POST /auth/exchange` trades for ours.

Each is configured (`IDENTITY_TRUSTED_ISSUERS`, a JSON list; cdk.json `identity.trusted_issuers`):

    {"name": "cognito", "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc",
     "audience": "client-id", "jwks_url": "https://…/.well-known/jwks.json",
     "player_claim": "sub", "roles": ["player"]}

`jwks_url` or `keys` (static public JWKs); the token's `iss` and `aud` must match; `player_claim`
names the claim that identifies the account at that issuer (its value is linked to one stable
player id of ours). A configured issuer may grant `game_server` (a studio's servers), never more.
"""

from __future__ import annotations

import ipaddress
import json
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from aicore.auth import Role
from aicore.clock import Clock, now
from aicore.errors import InvalidRequest, Unauthorized
from aicore.identity.keys import PublishedKey
from aicore.identity.tokens import JwksCache, KeySource, StaticKeys, verified_claims
from aicore.inputs import IDENTIFIER_PATTERN

Algorithm = Literal["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]
GRANTABLE = (Role.PLAYER, Role.GAME_SERVER)
MAX_JWKS_BYTES = 64 * 1024
JWKS_TIMEOUT_S = 3.0


class TrustedIssuer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)
    issuer: str = Field(min_length=1, max_length=512)
    audience: str | tuple[str, ...]
    jwks_url: str | None = None
    keys: tuple[dict[str, Any], ...] | None = None
    algorithms: tuple[Algorithm, ...] = ("RS256", "ES256")
    player_claim: str = Field("sub", min_length=1, max_length=64)
    roles: tuple[Role, ...] = (Role.PLAYER,)
    world: str | None = Field(None, min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)

    @field_validator("roles")
    @classmethod
    def _grantable(cls, roles: tuple[Role, ...]) -> tuple[Role, ...]:
        if not roles or any(role not in GRANTABLE for role in roles):
            raise ValueError(f"a trusted issuer grants {' or '.join(GRANTABLE)}, nothing else")
        return roles

    @field_validator("jwks_url")
    @classmethod
    def _https(cls, url: str | None) -> str | None:
        if url is not None and not _fetchable(url):
            raise ValueError("jwks_url must be https:// (http:// only on loopback)")
        return url

    @model_validator(mode="after")
    def _one_key_source(self) -> TrustedIssuer:
        if (self.jwks_url is None) == (self.keys is None):
            raise ValueError("give exactly one of jwks_url and keys")
        if self.keys is not None and any("kid" not in key for key in self.keys):
            raise ValueError("every static key needs a kid")
        return self


_ISSUERS = TypeAdapter(tuple[TrustedIssuer, ...])


def parse_trusted_issuers(raw: str | None) -> tuple[TrustedIssuer, ...]:
    """The configured issuers (a JSON list); names are unique."""
    if not raw:
        return ()
    issuers = _ISSUERS.validate_json(raw)
    names = [issuer.name for issuer in issuers]
    if len(set(names)) != len(names):
        raise ValueError("trusted issuer names must be unique")
    return issuers


def _fetchable(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme == "https" and parsed.hostname:
        return True
    if parsed.scheme != "http" or not parsed.hostname:
        return False
    if parsed.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parsed.hostname).is_loopback
    except ValueError:
        return False


def fetch_jwks(url: str, timeout_s: float = JWKS_TIMEOUT_S) -> list[PublishedKey]:
    """An issuer's JWKS over HTTPS (bounded in time and size); keys without a kid are skipped."""
    if not _fetchable(url):
        raise ValueError("refusing to fetch a JWKS from a URL that is not https://")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError("the JWKS is larger than we accept")
    document = json.loads(body)
    return [PublishedKey(jwk=jwk) for jwk in document.get("keys", []) if isinstance(jwk.get("kid"), str)]


Fetcher = Callable[[str], Sequence[PublishedKey]]


class IssuerRegistry:
    """The configured issuers, each with its key source (a JWKS cache per container, or static keys)."""

    def __init__(
        self, issuers: Sequence[TrustedIssuer], fetch: Fetcher = fetch_jwks, clock: Clock = now
    ) -> None:
        self._issuers = {issuer.name: issuer for issuer in issuers}
        self._clock = clock
        self._keys: dict[str, KeySource] = {
            issuer.name: StaticKeys(issuer.keys)
            if issuer.keys is not None
            else JwksCache(_bind(fetch, str(issuer.jwks_url)), clock=clock)
            for issuer in issuers
        }

    @property
    def names(self) -> list[str]:
        return sorted(self._issuers)

    def issuer(self, name: str) -> TrustedIssuer:
        found = self._issuers.get(name)
        if found is None:
            raise InvalidRequest("That provider is not configured here.", {"known_providers": self.names})
        return found

    def verify(self, name: str, token: str) -> tuple[TrustedIssuer, str]:
        """The issuer and the account id its token vouches for (Unauthorized if it does not)."""
        issuer = self.issuer(name)
        claims = verified_claims(
            token,
            self._keys[name],
            algorithms=issuer.algorithms,
            issuer=issuer.issuer,
            audience=list(issuer.audience) if isinstance(issuer.audience, tuple) else issuer.audience,
            clock=self._clock,
            required=("exp", issuer.player_claim),
            what="The provider's token",
        )
        return issuer, _account(claims, issuer.player_claim)


def _bind(fetch: Fetcher, url: str) -> Callable[[], Sequence[PublishedKey]]:
    return lambda: fetch(url)


def _account(claims: Mapping[str, Any], claim: str) -> str:
    value = claims.get(claim)
    if not isinstance(value, str | int) or isinstance(value, bool) or not 0 < len(str(value)) <= 256:
        raise Unauthorized("The provider's token does not identify an account.")
    return str(value)
