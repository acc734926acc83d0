"""What an NPC thinks of a player: trust and affinity on -100..100, and why they last changed."""

from __future__ import annotations

from pydantic import BaseModel, Field

SCALE = 100


def _clamp(value: int) -> int:
    return max(-SCALE, min(SCALE, value))


class RelationshipChange(BaseModel):
    at: str
    trust: int  # by how much trust moved
    affinity: int
    reason: str = Field(max_length=200)
    turn_id: str | None = None


class Relationship(BaseModel):
    world_id: str
    npc_id: str
    player_id: str
    trust: int = Field(0, ge=-SCALE, le=SCALE)
    affinity: int = Field(0, ge=-SCALE, le=SCALE)
    history: list[RelationshipChange] = Field(default_factory=list)  # newest last
    updated_at: str | None = None
    version: int = 0

    @classmethod
    def first(cls, world_id: str, npc_id: str, player_id: str) -> Relationship:
        return cls(world_id=world_id, npc_id=npc_id, player_id=player_id)

    def changed(self, change: RelationshipChange, keep: int) -> Relationship:
        """The next version, moved by `change` (the scale's ends hold). A change that moved
        something joins the history, which keeps the newest `keep`."""
        trust, affinity = _clamp(self.trust + change.trust), _clamp(self.affinity + change.affinity)
        actual = change.model_copy(update={"trust": trust - self.trust, "affinity": affinity - self.affinity})
        moved = actual.trust != 0 or actual.affinity != 0
        return self.model_copy(
            update={
                "trust": trust,
                "affinity": affinity,
                "history": [*self.history, actual][-keep:] if moved else self.history,
                "updated_at": change.at if moved else self.updated_at,
                "version": self.version + 1,
            }
        )


def label(trust: int, affinity: int) -> str:
    """A word or two for the prompt and the reply: how the NPC stands with the player."""
    warmth = affinity + trust // 2
    if warmth >= 60:
        return "close friend"
    if warmth >= 25:
        return "friendly"
    if warmth <= -60:
        return "hostile"
    if warmth <= -25:
        return "wary"
    return "neutral"
