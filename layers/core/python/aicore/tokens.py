"""Player tokens: HS256 JWTs signed with a key the backend holds (only the authorizer needs this)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import jwt
from pydantic import ValidationError

from aicore.auth import Caller
from aicore.errors import Unauthorized
from aicore.settings import Settings

ALGORITHM = "HS256"
DEFAULT_TTL_S = 12 * 3600


@dataclass(frozen=True)
class VerifiedToken:
    caller: Caller
    expires_at: int  # `exp`, epoch seconds


class TokenIssuer:
    def __init__(self, key: str, issuer: str, audience: str) -> None:
        self._key, self._issuer, self._audience = key, issuer, audience

    def issue(self, caller: Caller, ttl_s: int = DEFAULT_TTL_S) -> str:
        now = int(time.time())
        claims = {
            "sub": caller.subject,
            "world": caller.world_id,
            "roles": list(caller.roles),
            "iss": self._issuer,
            "aud": self._audience,
            "iat": now,
            "exp": now + ttl_s,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str | None) -> Caller:
        return self.verify_token(token).caller

    def verify_token(self, token: str | None) -> VerifiedToken:
        """Who the token speaks for, and until when; Unauthorized if it is missing, bad or expired."""
        if not token:
            raise Unauthorized("A token is required: pass it as ?token=… or 'Authorization: Bearer …'.")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["sub", "world", "exp"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired: get a new one.") from exc
        except jwt.PyJWTError as exc:
            # the kind of fault, not PyJWT's text: that may quote parts of the token
            raise Unauthorized(f"The token is not valid ({type(exc).__name__}).") from exc
        try:
            caller = Caller(
                subject=claims["sub"],
                world_id=claims["world"],
                roles=tuple(claims.get("roles") or ["player"]),
            )
            return VerifiedToken(caller, int(claims["exp"]))
        except (ValidationError, TypeError, ValueError) as exc:
            raise Unauthorized("The token's claims are not valid (sub, world, roles, exp).") from exc


def _secret_from_secrets_manager(arn: str) -> str:
    from aws_lambda_powertools.utilities.parameters import get_secret

    return str(get_secret(arn, max_age=300))


@lru_cache(maxsize=4)
def issuer_for(
    settings: Settings, fetch_secret: Callable[[str], str] = _secret_from_secrets_manager
) -> TokenIssuer:
    """Local runs hold the key inline; the cloud reads it from Secrets Manager (cached)."""
    if settings.jwt_secret is not None:
        key = settings.jwt_secret.get_secret_value()
    elif settings.jwt_secret_arn:
        key = fetch_secret(settings.jwt_secret_arn)
    else:
        raise RuntimeError("Neither JWT_SECRET nor JWT_SECRET_ARN is set.")
    return TokenIssuer(key, settings.jwt_issuer, settings.jwt_audience)
