"""Access tokens: ES256 JWTs we sign, verified against published keys (a JWKS) looked up by `kid`.

Verification is strict and owns its clock: the header must name an allowed asymmetric algorithm
and a `kid` we publish (so `alg: none` and HS256 signed with a public key never reach a signature
check), the signature, `iss` and `aud` are checked by PyJWT, `exp` against the injected clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import jwt
from pydantic import ValidationError

from aicore.auth import Caller, Role
from aicore.clock import Clock, now
from aicore.errors import Unauthorized
from aicore.identity.keys import ALGORITHM, PublishedKey, SigningKey

ACCESS_TOKEN_TTL_S = 15 * 60  # what /auth answers `expires_in` with (settings may lower it)
DEVELOPMENT_TTL_S = 12 * 3600  # `aicore token` and the console's token, signed by the local key
MAX_KID_CHARS = 128
MAX_TOKEN_CHARS = 8192


@dataclass(frozen=True)
class VerifiedToken:
    caller: Caller
    expires_at: int  # `exp`, epoch seconds


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: int
    kid: str


class KeySource(Protocol):
    """Public keys by `kid`; None when the kid is unknown (or no longer trusted)."""

    def key_for(self, kid: str) -> jwt.PyJWK | None: ...


class StaticKeys:
    """A fixed set of public JWKs (a provider configured with static keys; tests; `aicore token`)."""

    def __init__(self, jwks: Iterable[dict[str, Any]]) -> None:
        self._keys = {str(jwk["kid"]): jwt.PyJWK(dict(jwk)) for jwk in jwks}

    def key_for(self, kid: str) -> jwt.PyJWK | None:
        return self._keys.get(kid)


class JwksCache:
    """Published keys, cached per container: read again after `max_age_s`, and once more when a
    token names a kid the cache lacks (a rotation), at most every `min_refresh_s` (a flood of
    made-up kids costs one read per interval, not one per token). A key past its `retire_after`
    is never trusted, cached or not."""

    def __init__(
        self,
        fetch: Callable[[], Sequence[PublishedKey]],
        *,
        max_age_s: float = 300,
        min_refresh_s: float = 10,
        clock: Clock = now,
    ) -> None:
        self._fetch, self._clock = fetch, clock
        self._max_age, self._min_refresh = timedelta(seconds=max_age_s), timedelta(seconds=min_refresh_s)
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[jwt.PyJWK, PublishedKey]] = {}
        self._fetched_at: datetime | None = None
        self.fetches = 0

    def key_for(self, kid: str) -> jwt.PyJWK | None:
        with self._lock:
            at = self._clock()
            if self._stale(kid, at):
                self._refresh(at)
            found = self._keys.get(kid)
            if found is None or found[1].retired(at):
                return None
            return found[0]

    def _stale(self, kid: str, at: datetime) -> bool:
        if self._fetched_at is None:
            return True
        age = at - self._fetched_at
        return age >= self._max_age or (kid not in self._keys and age >= self._min_refresh)

    def _refresh(self, at: datetime) -> None:
        published = self._fetch()
        self.fetches += 1
        self._keys = {key.kid: (jwt.PyJWK(dict(key.jwk)), key) for key in published}
        self._fetched_at = at


def verified_claims(
    token: str | None,
    keys: KeySource,
    *,
    algorithms: Sequence[str],
    issuer: str,
    audience: str | Sequence[str],
    clock: Clock,
    required: Sequence[str] = ("sub", "exp"),
    what: str = "The token",
) -> dict[str, Any]:
    """The claims of a JWT signed by one of `keys`, for `issuer` and `audience`, not expired."""
    if not token:
        raise Unauthorized("A token is required: pass it as ?token=… or 'Authorization: Bearer …'.")
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthorized(f"{what} is not valid (too long).")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"{what} is not valid (DecodeError).") from exc
    algorithm, kid = header.get("alg"), header.get("kid")
    if not isinstance(algorithm, str) or algorithm not in algorithms:
        raise Unauthorized(f"{what} is not valid (its algorithm is not accepted).")
    if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_CHARS:
        raise Unauthorized(f"{what} is not valid (it names no signing key).")
    key = keys.key_for(kid)
    if key is None:
        raise Unauthorized(f"{what} is not valid (signed by a key that is not trusted).")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            # time is ours to check, against the injected clock
            options={
                "require": list(required),
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as exc:
        # the kind of fault, not PyJWT's text: that may quote parts of the token
        raise Unauthorized(f"{what} is not valid ({type(exc).__name__}).") from exc
    at = clock().timestamp()
    expires_at = claims.get("exp")
    if not isinstance(expires_at, int | float) or isinstance(expires_at, bool):
        raise Unauthorized(f"{what} is not valid (exp).")
    if at >= expires_at:
        raise Unauthorized(f"{what} has expired: get a new one.")
    not_before = claims.get("nbf")
    if isinstance(not_before, int | float) and at < not_before:
        raise Unauthorized(f"{what} is not valid yet.")
    return claims


class TokenVerifier:
    """Our access tokens: ES256, our issuer and audience, claims `sub`, `world`, `roles`, `exp`."""

    def __init__(self, keys: KeySource, issuer: str, audience: str, clock: Clock = now) -> None:
        self._keys, self._issuer, self._audience, self._clock = keys, issuer, audience, clock

    def verify(self, token: str | None) -> Caller:
        return self.verify_token(token).caller

    def verify_token(self, token: str | None) -> VerifiedToken:
        """Who the token speaks for, and until when; Unauthorized if it is missing, bad or expired."""
        claims = verified_claims(
            token,
            self._keys,
            algorithms=(ALGORITHM,),
            issuer=self._issuer,
            audience=self._audience,
            clock=self._clock,
            required=("sub", "world", "exp", "iat"),
        )
        try:
            caller = Caller(
                subject=claims["sub"],
                world_id=claims["world"],
                roles=tuple(Role(r) for r in claims.get("roles") or ["player"]),
            )
            return VerifiedToken(caller, int(claims["exp"]))
        except (ValidationError, TypeError, ValueError) as exc:
            raise Unauthorized("The token's claims are not valid (sub, world, roles, exp).") from exc


class TokenSigner:
    """Signs access tokens with whatever key `current_key` gives now (it changes on rotation)."""

    def __init__(
        self, current_key: Callable[[], SigningKey], issuer: str, audience: str, clock: Clock = now
    ) -> None:
        self._current_key, self._issuer, self._audience, self._clock = current_key, issuer, audience, clock

    def issue(self, caller: Caller, ttl_s: int = ACCESS_TOKEN_TTL_S) -> IssuedToken:
        key = self._current_key()
        issued_at = int(self._clock().timestamp())
        claims = {
            "sub": caller.subject,
            "world": caller.world_id,
            "roles": list(caller.roles),
            "iss": self._issuer,
            "aud": self._audience,
            "iat": issued_at,
            "exp": issued_at + ttl_s,
        }
        token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
        return IssuedToken(token, issued_at + ttl_s, key.kid)


class TokenIssuer:
    """One key that both signs and verifies: the development key of `aicore token`, and tests."""

    def __init__(self, key: SigningKey, issuer: str, audience: str, clock: Clock = now) -> None:
        self.key = key
        self._signer = TokenSigner(lambda: key, issuer, audience, clock)
        self.verifier = TokenVerifier(StaticKeys([key.public_jwk]), issuer, audience, clock)

    def issue(self, caller: Caller, ttl_s: int = DEVELOPMENT_TTL_S) -> str:
        return self._signer.issue(caller, ttl_s).token

    def verify(self, token: str | None) -> Caller:
        return self.verifier.verify(token)

    def verify_token(self, token: str | None) -> VerifiedToken:
        return self.verifier.verify_token(token)
