"""Who the caller is: identity from verified token claims, roles, world scope."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from aicore.errors import Forbidden, Unauthorized

EXPIRES_AT = "expires_at"  # the authorizer context's key for the token's `exp` (epoch seconds)


class Role(StrEnum):
    PLAYER = "player"
    NPC = "npc"
    STUDIO = "studio"
    ADMIN = "admin"
    GAME_SERVER = "game_server"  # a studio's game server acting in its world (exchange tokens only)


class Caller(BaseModel):
    """Who is asking, from verified token claims."""

    subject: str = Field(min_length=1, max_length=128)
    world_id: str = Field(min_length=1, max_length=64)
    roles: tuple[Role, ...] = (Role.PLAYER,)

    def has(self, role: Role) -> bool:
        return role in self.roles

    def require_world(self, world_id: str) -> None:
        if world_id != self.world_id and not self.has(Role.ADMIN):
            raise Forbidden(f"Your token is for world '{self.world_id}': it reaches no other world.")

    def as_context(self) -> dict[str, str]:
        """Flat string map, as API Gateway authorizer contexts must be."""
        return {"subject": self.subject, "world_id": self.world_id, "roles": ",".join(self.roles)}

    @classmethod
    def from_context(cls, context: dict[str, Any]) -> Caller:
        try:
            roles = tuple(Role(r) for r in str(context.get("roles", "player")).split(",") if r)
            return cls(subject=context["subject"], world_id=context["world_id"], roles=roles)
        except (KeyError, ValueError, ValidationError) as exc:
            raise Unauthorized("The request carries no verified identity.") from exc


def token_expiry(context: dict[str, Any]) -> int:
    """The token's expiry the authorizer put in its context (API Gateway passes it as a string)."""
    try:
        return int(str(context[EXPIRES_AT]))
    except (KeyError, ValueError) as exc:
        raise Unauthorized("The request carries no token expiry: sign in again.") from exc


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None
