"""What the sessions service needs of storage (`SessionStore`), and the errors it speaks in.

The DynamoDB adapters are in `aicore.aws.sessions`.
"""

from __future__ import annotations

from typing import Protocol

from aicore.errors import Conflict
from aicore.sessions.models import HeadChanges, Message, NewMessage, SessionHead


def pair_key(world_id: str, player_id: str, npc_id: str) -> str:
    """The lookup key of a player's own session with an NPC: one per pair."""
    return f"PAIR#{world_id}#{player_id}#{npc_id}"


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

    def create(self, head: SessionHead, pair: str | None = None) -> SessionHead: ...
    def find_pair(self, pair: str) -> str | None: ...
    def get_head(self, session_id: str) -> SessionHead: ...
    def head_and_recent(self, session_id: str, limit: int) -> tuple[SessionHead, list[Message]]: ...
    def page(self, head: SessionHead, before: int | None, limit: int) -> list[Message]: ...
    def append(self, head: SessionHead, new: list[NewMessage]) -> tuple[SessionHead, list[Message]]: ...
    def update_head(self, session_id: str, expected_version: int, changes: HeadChanges) -> SessionHead: ...


class AppendObserver(Protocol):
    """Told about every append that landed (e.g. to ask for compaction when the hot part grows)."""

    def appended(self, head: SessionHead, messages: list[Message]) -> None: ...
