"""What the sessions service needs of storage (`SessionStore`), and the errors it speaks in.

The DynamoDB adapters are in `aicore.aws.sessions`.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from aicore.errors import Conflict, InvalidRequest, NotFound
from aicore.sessions.models import HeadChanges, Message, NewMessage, Participant, SessionHead


def pair_session_id(world_id: str, player_id: str, npc_id: str) -> str:
    """The id of a player's own session with an NPC: one per pair, known without a lookup.

    Knowing it is not reading it: a session anyone may not see answers 404 whatever its id."""
    digest = hashlib.sha256("\x1f".join((world_id, player_id, npc_id)).encode()).hexdigest()
    return f"ses_pair_{digest[:32]}"


class SessionNotLive(Conflict):
    """The session is cold, or moving between tiers: it must be brought back before this write."""

    def __init__(self, head: SessionHead) -> None:
        super().__init__(
            f"Session '{head.session_id}' is {head.tier.value}: try again in a moment.",
            {"session_id": head.session_id, "tier": head.tier.value},
        )
        self.head = head


class SessionStore(Protocol):
    """What the sessions service needs of storage."""

    def create(self, head: SessionHead) -> SessionHead:
        """Create a session; `Conflict` if its id exists (a pair's session is created once)."""
        ...

    def start(self, head: SessionHead, first: list[NewMessage]) -> tuple[SessionHead, list[Message]]:
        """Create a session with its first messages in one write; `Conflict` if its id exists."""
        ...

    def get_head(self, session_id: str) -> SessionHead: ...
    def head_and_recent(self, session_id: str, limit: int) -> tuple[SessionHead, list[Message]]: ...
    def page(self, head: SessionHead, before: int | None, limit: int) -> list[Message]: ...
    def append(self, head: SessionHead, new: list[NewMessage]) -> tuple[SessionHead, list[Message]]:
        """Store `new` in one total order after what is there. Messages with an `idempotency_key`
        already stored are not stored again: a replay answers with the messages first stored
        (all keys known and the same lines) or `Conflict` (a key reused for other lines)."""
        ...

    def update_head(self, session_id: str, expected_version: int, changes: HeadChanges) -> SessionHead: ...

    def add_participant(
        self, session_id: str, participant: Participant, expected_version: int | None, limit: int
    ) -> SessionHead:
        """Add one participant atomically (others may join or leave meanwhile); with `expected_version`,
        only if the head is still at it. Already there as the same kind: nothing changes."""
        ...

    def remove_participant(
        self, session_id: str, participant_id: str, expected_version: int | None
    ) -> SessionHead:
        """Take one participant out atomically; `NotFound` if they are not in the session."""
        ...


def stale_version(session_id: str, current: int, expected: int) -> Conflict:
    return Conflict(
        f"Session '{session_id}' is at version {current}, not {expected}: "
        "read it again and retry with If-Match set to the current version.",
        {"session_id": session_id, "current_version": current},
    )


def already_in(participant: Participant) -> Conflict:
    return Conflict(
        f"'{participant.id}' is already in the session as a {participant.kind.value}.",
        {"participant_id": participant.id},
    )


def session_full(limit: int) -> InvalidRequest:
    return InvalidRequest(f"A session has at most {limit} participants.", {"limit": limit})


def not_a_participant(participant_id: str) -> NotFound:
    return NotFound(
        f"'{participant_id}' is not a participant of this session.", {"participant_id": participant_id}
    )


class AppendObserver(Protocol):
    """Told about every append that landed (e.g. to ask for compaction when the hot part grows)."""

    def appended(self, head: SessionHead, messages: list[Message]) -> None: ...
