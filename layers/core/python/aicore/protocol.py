"""Connection frames of protocol v2: `ping` (keep-alive), `connection.hello` (a resume token, the
protocol and the capabilities) and `connection.resume` (what the player missed while away).

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
from aicore.frames import PROTOCOL, ConnectionFrame, ConnectionHello, ConnectionResume, Ping
from aicore.platform.capabilities import Capabilities, capabilities
from aicore.platform.settings import SettingsCache
from aicore.sessions.models import Message, SessionLine
from aicore.sessions.service import SessionService

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


def answer_connection_frame(
    frame: ConnectionFrame, caller: Caller, deps: ConnectionFrameDeps, protocol: str = PROTOCOL
) -> BaseModel:
    if isinstance(frame, Ping):
        return Pong(server_time=deps.clock().isoformat())
    assert isinstance(frame, ConnectionHello)
    return Welcome(
        resume_token=issue_resume_token(deps.resume_tokens, caller, deps.clock),
        protocol=protocol,  # the connection's subprotocol
        capabilities=capabilities(deps.settings, caller.world_id),
    )


# --- connection.resume ----------------------------------------------------------------------------

MAX_RESUMED_MESSAGES = 200  # per session; more missed: `next_before` pages on with session.history


class MissedMessage(SessionLine):
    """A message the client missed, as a `session.message` frame carries it (its final text: the
    tokens streamed while the client was away are not replayed, the stored line is)."""

    session_id: str


class ResumedSession(BaseModel):
    session_id: str
    sent: int  # session.message frames sent for it
    last_seq: int  # the newest seq the client has now
    next_before: int | None  # more were missed than sent: read them with session.history before this


class Resumed(BaseModel):
    sessions: list[ResumedSession]


def resume(
    frame: ConnectionResume,
    caller: Caller,
    connection_id: str,
    sessions: SessionService,
    tokens: ResumeTokenStore,
    pusher: ClientPusher,
    clock: Clock = now,
) -> Resumed:
    """Check the token is the caller's, read every session's missed messages (all reads first: a
    session the player may not read fails the frame before anything is sent), then send them in
    order, each session's oldest first."""
    resume_player(tokens, frame.resume_token, caller, clock)
    missed = {sid: _missed(sessions, caller, sid, after) for sid, after in frame.last_seq.items()}
    answers = []
    for session_id, (messages, next_before) in missed.items():
        for message in messages:
            data = MissedMessage(session_id=session_id, **message.model_dump())
            frame_out = {
                "type": "session.message",
                "request_id": frame.request_id,
                "data": data.model_dump(mode="json"),
            }
            pusher.send(connection_id, frame_out)
        last = messages[-1].seq if messages else frame.last_seq[session_id]
        answers.append(
            ResumedSession(session_id=session_id, sent=len(messages), last_seq=last, next_before=next_before)
        )
    return Resumed(sessions=answers)


def _missed(
    sessions: SessionService, caller: Caller, session_id: str, after: int
) -> tuple[list[Message], int | None]:
    """The messages after seq `after` (at most the newest MAX_RESUMED_MESSAGES), and where to page on
    from if more were missed."""
    page = sessions.messages(caller, session_id, None, MAX_RESUMED_MESSAGES)
    missed = [m for m in page.messages if m.seq > after]
    cut = bool(missed) and missed[0].seq > after + 1 and page.next_before is not None
    return missed, missed[0].seq if cut else None
