"""NPCs, lore facts and NPC memories."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from aicore.clock import utc_now
from aicore.performance import PerformanceMode, PerformanceSettings


class Npc(BaseModel):
    npc_id: str
    world_id: str
    name: str
    persona: str = Field(description="Who they are, in a sentence or two, for the model.")
    speech_style: str = Field(description="How they talk.")
    greeting: str
    fallback_lines: list[str] = Field(
        default_factory=list, description="In-character lines for when no model can answer."
    )


class LoreFact(BaseModel):
    fact_id: str
    world_id: str
    text: str


class NpcMemory(BaseModel):
    """What an NPC remembers of one player."""

    world_id: str
    npc_id: str
    player_id: str
    turns: int = 0
    last_player_line: str = ""
    last_seen: str = Field(default_factory=utc_now)


class PerformanceSetting(BaseModel):
    """A stored performance mode: the world's (`player_id` None) or one player's."""

    world_id: str
    player_id: str | None = None
    mode: PerformanceMode
    updated_by: str
    updated_at: str = Field(default_factory=utc_now)


@dataclass(frozen=True)
class TurnContext:
    """Everything an NPC turn reads from the world, read together in one round trip."""

    npc: Npc | None
    memory: NpcMemory | None
    performance: PerformanceSettings
