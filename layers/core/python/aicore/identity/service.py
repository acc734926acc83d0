"""Logins and sessions: guest (device id) and exchange (a trusted issuer's token) give an access
token (ES256, minutes) and a refresh token (opaque, rotating, revocable); refresh and logout."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from aicore.auth import Caller, Role
from aicore.clock import Clock, now
from aicore.errors import InvalidRequest, Unauthorized
from aicore.identity.issuers import IssuerRegistry
from aicore.identity.store import IdentityStore, RefreshRecord, Rotation, token_hash
from aicore.identity.tokens import ACCESS_TOKEN_TTL_S, MAX_TOKEN_CHARS, TokenSigner
from aicore.inputs import IDENTIFIER_PATTERN

REFRESH_TOKEN_TTL_S = 30 * 24 * 3600
WorldId = Annotated[str, Field(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)]
# A device id is a guest's only credential: long enough not to be guessed (a UUID is 36 characters).
DeviceId = Annotated[str, Field(min_length=16, max_length=128, pattern=IDENTIFIER_PATTERN)]
OpaqueToken = Annotated[str, Field(min_length=20, max_length=256, pattern=r"^[A-Za-z0-9_\-]+$")]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class GuestLogin(_Request):
    device_id: DeviceId
    world: WorldId | None = None


class Exchange(_Request):
    provider: str = Field(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN)
    token: str = Field(min_length=1, max_length=MAX_TOKEN_CHARS)
    world: WorldId | None = None


class RefreshRequest(_Request):
    refresh_token: OpaqueToken


class Tokens(BaseModel):
    """What a login or a refresh answers."""

    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token lives
    player_id: str
    token_type: str = "Bearer"
    refresh_expires_in: int
    world_id: str
    roles: tuple[Role, ...]


class SignedOut(BaseModel):
    signed_out: bool = True


@dataclass(frozen=True)
class IdentityPolicy:
    access_token_ttl_s: int = ACCESS_TOKEN_TTL_S
    refresh_token_ttl_s: int = REFRESH_TOKEN_TTL_S
    worlds: tuple[str, ...] = ("demo",)  # the worlds players may sign in to; the first is the default


@dataclass
class IdentityDeps:
    store: IdentityStore
    signer: TokenSigner
    issuers: IssuerRegistry
    policy: IdentityPolicy = field(default_factory=IdentityPolicy)
    clock: Clock = now


def guest_login(deps: IdentityDeps, request: GuestLogin) -> Tokens:
    """The same device id always gets the same player id (it is stored hashed)."""
    world = _world(deps.policy, request.world)
    player_id = deps.store.link(f"guest:{_digest(request.device_id)}", _new_player_id(), deps.clock())
    return _start_session(deps, Caller(subject=player_id, world_id=world, roles=(Role.PLAYER,)))


def exchange(deps: IdentityDeps, request: Exchange) -> Tokens:
    """A trusted issuer's token for ours: its account is linked to one stable player id."""
    issuer, account = deps.issuers.verify(request.provider, request.token)
    world = _world(deps.policy, request.world or issuer.world)
    link = f"issuer:{issuer.name}:{_digest(account)}"
    player_id = deps.store.link(link, _new_player_id(), deps.clock())
    return _start_session(deps, Caller(subject=player_id, world_id=world, roles=issuer.roles))


def refresh(deps: IdentityDeps, request: RefreshRequest) -> Tokens:
    """A new access token and the next refresh token; the one presented stops working."""
    at = deps.clock()
    old = deps.store.refresh_record(token_hash(request.refresh_token))
    if old is None or old.expired(at):
        raise Unauthorized("The refresh token is not valid or has expired: sign in again.")
    value, new = _refresh_record(deps, old.family_id, old.player_id, old.world_id, old.roles)
    outcome = deps.store.rotate(old, new, at)
    if outcome is Rotation.REUSED:
        raise Unauthorized(
            "This refresh token was used before: every session it belongs to is now signed out. "
            "Sign in again."
        )
    if outcome is Rotation.REVOKED:
        raise Unauthorized("This session was signed out: sign in again.")
    caller = Caller(subject=old.player_id, world_id=old.world_id, roles=old.roles)
    return _tokens(deps, caller, value)


def logout(deps: IdentityDeps, request: RefreshRequest) -> SignedOut:
    """Revokes the refresh token's family; an unknown token signs out nothing, and says the same."""
    found = deps.store.refresh_record(token_hash(request.refresh_token))
    if found is not None:
        deps.store.revoke_family(found.family_id, deps.clock())
    return SignedOut()


def _start_session(deps: IdentityDeps, caller: Caller) -> Tokens:
    value, first = _refresh_record(deps, uuid.uuid4().hex, caller.subject, caller.world_id, caller.roles)
    deps.store.start_family(first, deps.clock())
    return _tokens(deps, caller, value)


def _refresh_record(
    deps: IdentityDeps, family_id: str, player_id: str, world_id: str, roles: tuple[Role, ...]
) -> tuple[str, RefreshRecord]:
    value = secrets.token_urlsafe(32)
    at = deps.clock()
    record = RefreshRecord(
        token_hash=token_hash(value),
        family_id=family_id,
        player_id=player_id,
        world_id=world_id,
        roles=roles,
        issued_at=at,
        expires_at=at + timedelta(seconds=deps.policy.refresh_token_ttl_s),
    )
    return value, record


def _tokens(deps: IdentityDeps, caller: Caller, refresh_value: str) -> Tokens:
    access = deps.signer.issue(caller, deps.policy.access_token_ttl_s)
    return Tokens(
        access_token=access.token,
        refresh_token=refresh_value,
        expires_in=deps.policy.access_token_ttl_s,
        player_id=caller.subject,
        refresh_expires_in=deps.policy.refresh_token_ttl_s,
        world_id=caller.world_id,
        roles=caller.roles,
    )


def _world(policy: IdentityPolicy, asked: str | None) -> str:
    world = asked or policy.worlds[0]
    if world not in policy.worlds:
        raise InvalidRequest("Players cannot sign in to that world here.", {"worlds": list(policy.worlds)})
    return world


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _new_player_id() -> str:
    return f"ply_{uuid.uuid4().hex}"
