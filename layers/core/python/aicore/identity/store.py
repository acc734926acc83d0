"""What identity keeps: links (a device or an issuer's account -> one player id) and refresh tokens,
hashed, in families. The DynamoDB adapter is `aicore.aws.identity_store`.

Refresh tokens rotate: each use retires the token and issues the next one in its family. A retired
token used again means two parties hold the family (a stolen token): the whole family is revoked,
so the thief's and the player's sessions both end and the player signs in again.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from aicore.auth import Role


class RefreshState(StrEnum):
    ACTIVE = "active"
    ROTATED = "rotated"  # used once: a second use is reuse


class RefreshRecord(BaseModel):
    """One refresh token, by the SHA-256 of its value (the value itself is never stored)."""

    model_config = ConfigDict(frozen=True)

    token_hash: str
    family_id: str
    player_id: str
    world_id: str
    roles: tuple[Role, ...]
    state: RefreshState = RefreshState.ACTIVE
    issued_at: datetime
    expires_at: datetime

    def expired(self, at: datetime) -> bool:
        return at >= self.expires_at


class Rotation(StrEnum):
    ROTATED = "rotated"
    REUSED = "reused"  # the old token had been used already: the family is revoked
    REVOKED = "revoked"  # the family was revoked (sign-out, or reuse seen before)


def token_hash(value: str) -> str:
    """Refresh tokens are 256 random bits: a plain SHA-256 is as hard to invert as the token to guess."""
    return hashlib.sha256(value.encode()).hexdigest()


class IdentityStore(Protocol):
    def link(self, link_key: str, player_id: str, at: datetime) -> str:
        """The player id linked to `link_key`: `player_id` if it had none (race-safe: one wins)."""
        ...

    def refresh_record(self, token_hash: str) -> RefreshRecord | None: ...

    def start_family(self, first: RefreshRecord, at: datetime) -> None:
        """A new family with its first token (a login)."""
        ...

    def rotate(self, old: RefreshRecord, new: RefreshRecord, at: datetime) -> Rotation:
        """Retire `old` and issue `new` in one step, if `old` is still active and its family live."""
        ...

    def revoke_family(self, family_id: str, at: datetime) -> None: ...
