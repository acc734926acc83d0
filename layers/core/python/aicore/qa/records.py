"""What synthetic players did, as recorded: each turn and each quest attempt (JSON-ready)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TurnRecord(BaseModel):
    """One `npc.say` as the player saw it. `error` is set when the turn did not end in a reply."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    player: int
    turn: int  # 1-based, per player
    npc: str
    said: str
    reply: str = ""
    tier: str = ""
    fallback: bool = False
    fallback_reason: str | None = None
    tokens: int = 0  # token frames streamed
    first_token_ms: float | None = None
    total_ms: float = 0.0
    session_id: str = ""
    error: str | None = None

    @property
    def label(self) -> str:
        return f"player {self.player} turn {self.turn} ({self.npc})"


class QuestRecord(BaseModel):
    """One player's attempt at a giver's quest: each step it got through, and how it ended."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    player: int
    giver: str
    quest_id: str | None = None
    steps: list[str] = Field(default_factory=list)
    state: str | None = None  # the quest's state when last read
    error: str | None = None

    @property
    def label(self) -> str:
        return f"player {self.player} quest of {self.giver}" + (
            f" ({self.quest_id})" if self.quest_id else ""
        )


class BatchResult(BaseModel):
    """What one batch of players did (one item of the flow's map)."""

    model_config = ConfigDict(extra="forbid")

    turns: list[TurnRecord] = Field(default_factory=list)
    quests: list[QuestRecord] = Field(default_factory=list)
    login_failures: list[str] = Field(default_factory=list)
