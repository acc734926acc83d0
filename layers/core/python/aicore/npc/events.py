"""The NPC turn's event: its detail is all its consumer (`npc-memory`) imports of the turn, so that
consumer's cold start does not carry the turn's prompt, router and world reads."""

from __future__ import annotations

from pydantic import Field

from aicore.events import EventDetail


class NpcTurnCompleted(EventDetail):
    session_id: str
    npc_id: str
    player_id: str
    player_line: str
    reply: str
    tier: str
    fallback: bool
    # For the analytics store: why the tiers before `tier` did not answer (`gold: timed_out`), and
    # how long the player waited for the reply's first token (None: events of older senders).
    fallback_reason: str | None = None
    first_token_ms: float | None = None
    # Memories the turn's prompt used (`aicore.mind.turn.recall`): the consumer marks them accessed.
    memory_ids: list[str] = Field(default_factory=list, max_length=100)
    # Phrases of a constructed language the player heard in the reply, by language id: the
    # consumer adds them to the player's proficiency, once per turn (`correlation_id`).
    phrases_heard: dict[str, int] = Field(default_factory=dict)
