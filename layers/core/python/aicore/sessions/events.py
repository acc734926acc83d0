"""Events the sessions domain puts on the bus (source `aicore.sessions`)."""

from __future__ import annotations

from aicore.events import EventDetail


class SessionCompactionNeeded(EventDetail):
    """An append took the session's hot part past the threshold: summarize and compact it."""

    session_id: str
    message_count: int
    hot_count: int


class SessionRehydrationRequested(EventDetail):
    """A cold session was read: bring it back into DynamoDB (the rehydrate flow)."""

    session_id: str
    archive_key: str
