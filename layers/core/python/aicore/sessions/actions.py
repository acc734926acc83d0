"""The WebSocket session actions a game client sends: session.history, session.join, session.leave."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel

from aicore.auth import Caller
from aicore.clock import Clock, now
from aicore.connections import ClientPusher
from aicore.frames import MAX_FRAME_BYTES, SessionFrame, SessionHistory, SessionJoin, SessionLeave
from aicore.sessions.chunks import next_before
from aicore.sessions.models import MessagePage, Participant
from aicore.sessions.service import SessionService

if TYPE_CHECKING:
    from aicore.protocol import ResumeTokenStore

# The frame type that answers each action (on failure: "error").
REPLY_TYPES = {
    "session.history": "session.history",
    "session.join": "session.joined",
    "session.leave": "session.left",
}
# A page of history travels in one frame: its messages get all of it but room for the envelope.
HISTORY_FRAME_BUDGET = MAX_FRAME_BYTES - 4 * 1024


@dataclass
class SessionActionDeps:
    service: SessionService
    pusher: ClientPusher
    clock: Clock = now
    resume_tokens: ResumeTokenStore | None = None  # `connection.resume` checks its token there


def answer_session_action(frame: SessionFrame, caller: Caller, deps: SessionActionDeps) -> BaseModel:
    match frame:
        case SessionHistory():
            page = deps.service.messages(caller, frame.session_id, frame.before, frame.limit)
            return fit_in_frame(page, HISTORY_FRAME_BUDGET)
        case SessionJoin():
            joining = Participant(id=frame.participant_id or caller.subject, kind=frame.kind)
            return deps.service.add_participant(caller, frame.session_id, joining)
        case SessionLeave():
            return deps.service.remove_participant(
                caller, frame.session_id, frame.participant_id or caller.subject
            )


def fit_in_frame(page: MessagePage, budget_bytes: int) -> MessagePage:
    """The newest messages of `page` that fit in `budget_bytes` of JSON (as the pusher writes it);
    when some are left out, `next_before` points at them, so the client reads them next."""
    kept, used = 0, 0
    for message in reversed(page.messages):
        used += len(json.dumps(message.model_dump(mode="json"), separators=(",", ":"))) + 1
        if used > budget_bytes and kept:  # one message always fits: its text is bounded
            break
        kept += 1
    if kept == len(page.messages):
        return page
    newest = page.messages[-kept:]
    return page.model_copy(update={"messages": newest, "next_before": next_before(newest)})
