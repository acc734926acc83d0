"""Connection frames of protocol v2: `ping` (keep-alive) and `connection.hello` (a resume token, the
protocol and the capabilities).

A resume token is random (256 bits) and stored: the connections table keeps only its SHA-256 with the
player and world it was issued to, so a token read from the table is no use, a forged one names no
item, and one presented by another player is refused (`resume_player`).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel

from aicore.auth import Caller
from aicore.clock import Clock, now
from aicore.connections import ClientPusher
from aicore.errors import Forbidden
from aicore.frames import PROTOCOL, ConnectionFrame, ConnectionHello, Ping
from aicore.platform.capabilities import Capabilities, capabilities
from aicore.platform.settings import SettingsCache

RESUME_TOKEN_TTL_S = 24 * 3600  # a client may come back within a day of its last hello
REPLY_TYPES = {"ping": "pong", "connection.hello": "connection.welcome"}


class ResumeGrant(BaseModel):
    """Who a resume token was issued to, and until when."""

    subject: str
    world_id: str
    expires_at: int


class ResumeTokenStore(Protocol):
    def put(self, token_hash: str, grant: ResumeGrant) -> None: ...
    def get(self, token_hash: str) -> ResumeGrant | None: ...


@dataclass
class ConnectionFrameDeps:
    pusher: ClientPusher
    resume_tokens: ResumeTokenStore
    settings: SettingsCache
    clock: Clock = now


class Pong(BaseModel):
    server_time: str  # ISO 8601, UTC


class Welcome(BaseModel):
    resume_token: str  # present it in `connection.resume` after a drop (same player only)
    protocol: str
    capabilities: Capabilities


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_resume_token(store: ResumeTokenStore, caller: Caller, clock: Clock = now) -> str:
    token = secrets.token_urlsafe(32)
    expires_at = int(clock().timestamp()) + RESUME_TOKEN_TTL_S
    store.put(
        token_hash(token),
        ResumeGrant(subject=caller.subject, world_id=caller.world_id, expires_at=expires_at),
    )
    return token


def resume_player(store: ResumeTokenStore, token: str, caller: Caller, clock: Clock = now) -> ResumeGrant:
    """The grant of a token the caller may use: issued to this player in this world, not expired."""
    grant = store.get(token_hash(token))
    if (
        grant is None
        or grant.expires_at <= clock().timestamp()
        or (grant.subject, grant.world_id) != (caller.subject, caller.world_id)
    ):
        raise Forbidden(
            "This resume token is unknown, expired or not yours: send connection.hello for a new one."
        )
    return grant


def answer_connection_frame(frame: ConnectionFrame, caller: Caller, deps: ConnectionFrameDeps) -> BaseModel:
    if isinstance(frame, Ping):
        return Pong(server_time=deps.clock().isoformat())
    assert isinstance(frame, ConnectionHello)
    return Welcome(
        resume_token=issue_resume_token(deps.resume_tokens, caller, deps.clock),
        protocol=PROTOCOL,
        capabilities=capabilities(deps.settings, caller.world_id),
    )
