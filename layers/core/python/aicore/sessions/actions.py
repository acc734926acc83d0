"""The WebSocket session actions a game client sends: session.history, session.join, session.leave."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from aicore.connections import ClientPusher, ConnectionStore, require_connection
from aicore.frames import SessionFrame, SessionHistory, SessionJoin, SessionLeave
from aicore.sessions.models import Participant
from aicore.sessions.service import SessionService

# The frame type that answers each action (on failure: "error").
REPLY_TYPES = {
    "session.history": "session.history",
    "session.join": "session.joined",
    "session.leave": "session.left",
}


@dataclass
class SessionActionDeps:
    connections: ConnectionStore
    service: SessionService
    pusher: ClientPusher


def answer_session_action(frame: SessionFrame, connection_id: str, deps: SessionActionDeps) -> BaseModel:
    caller = require_connection(deps.connections, connection_id).caller
    match frame:
        case SessionHistory():
            return deps.service.messages(caller, frame.session_id, frame.before, frame.limit)
        case SessionJoin():
            joining = Participant(id=frame.participant_id or caller.subject, kind=frame.kind)
            return deps.service.add_participant(caller, frame.session_id, joining)
        case SessionLeave():
            return deps.service.remove_participant(
                caller, frame.session_id, frame.participant_id or caller.subject
            )
