"""World content in DynamoDB: `pk = WORLD#<world>`, `sk = NPC#… | LORE#… | MEMORY#<npc>#<player>`;
the mind's `RELATIONSHIP#<npc>#<player>` and `EMOTION#<npc>` (small, read with the turn's batch); the
knowledge base's index pointers (`KNOWLEDGE#INDEX`, here and under `WORLD#global`, in the same batch).

A player's own performance mode lives beside them: `sk = SETTINGS#PERFORMANCE#<player>`, so a
turn reads it with its NPC and memory (the world's mode is a setting: `aicore.platform.settings`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from aicore.mind.emotions import EmotionState
from aicore.mind.relationship import Relationship
from aicore.performance import PerformanceSettings
from aicore.world.models import LoreFact, Npc, NpcMemory, PerformanceSetting, TurnContext


def world_pk(world_id: str) -> str:
    return f"WORLD#{world_id}"


def memory_sk(npc_id: str, player_id: str) -> str:
    return f"MEMORY#{npc_id}#{player_id}"


def turn_marker_sk(npc_id: str, player_id: str, turn_id: str) -> str:
    """A turn an NPC has already remembered (event consumers must tolerate redelivery)."""
    return f"TURN#{npc_id}#{player_id}#{turn_id}"


def relationship_sk(npc_id: str, player_id: str) -> str:
    """What an NPC thinks of a player (the mind): read with the turn's other world items."""
    return f"RELATIONSHIP#{npc_id}#{player_id}"


def emotion_sk(npc_id: str) -> str:
    return f"EMOTION#{npc_id}"


def felt_marker_sk(npc_id: str, player_id: str, turn_id: str) -> str:
    """A turn whose feelings (relationship, emotion) the NPC has already taken in."""
    return f"FELT#{npc_id}#{player_id}#{turn_id}"


def proficiency_sk(player_id: str) -> str:
    """What a player has heard of each of the world's languages (`aicore.language.speech.Proficiency`)."""
    return f"PROFICIENCY#{player_id}"


def heard_marker_sk(player_id: str, turn_id: str) -> str:
    """A turn whose phrases already count towards the player's proficiency."""
    return f"HEARD#{player_id}#{turn_id}"


class Feeling(StrEnum):
    """What became of a turn's feelings: taken in, already taken in (redelivery), or lost a race."""

    FELT = "felt"
    ALREADY = "already"
    CONFLICT = "conflict"


PERFORMANCE_SK = "SETTINGS#PERFORMANCE"


def performance_sk(player_id: str | None) -> str:
    return PERFORMANCE_SK if player_id is None else f"{PERFORMANCE_SK}#{player_id}"


class WorldStore(Protocol):
    def npc_and_memory(
        self, world_id: str, npc_id: str, player_id: str
    ) -> tuple[Npc | None, NpcMemory | None]: ...
    def turn_context(self, world_id: str, npc_id: str, player_id: str) -> TurnContext: ...
    def performance(self, world_id: str, player_id: str) -> PerformanceSettings: ...
    def set_performance_mode(self, setting: PerformanceSetting) -> None: ...
    def list_npcs(self, world_id: str) -> list[Npc]: ...
    def lore(self, world_id: str) -> list[LoreFact]: ...
    def remember(
        self, world_id: str, npc_id: str, player_id: str, line: str, at: str, turn_id: str
    ) -> NpcMemory:
        """Count the turn `turn_id` once, however often it is told."""
        ...

    def hear(self, world_id: str, player_id: str, heard: dict[str, int], turn_id: str) -> bool:
        """Add the phrases the player heard in turn `turn_id` (by language) to their proficiency,
        once however often it is told; False: that turn was counted already."""
        ...

    def relationship(self, world_id: str, npc_id: str, player_id: str) -> Relationship | None: ...
    def feel(
        self, relationship: Relationship, emotion: EmotionState, turn_id: str, expected: tuple[int, int]
    ) -> Feeling:
        """Store the relationship and emotion a turn left, once per turn, if still at the `expected`
        versions (relationship, emotion: 0 when there was none)."""
        ...

    def put_npc(self, npc: Npc) -> None: ...
    def put_lore(self, fact: LoreFact) -> None: ...
