"""World content in DynamoDB: `pk = WORLD#<world>`, `sk = NPC#… | LORE#… | MEMORY#<npc>#<player>`.

Performance modes live beside them: `sk = SETTINGS#PERFORMANCE` (the world's) and
`SETTINGS#PERFORMANCE#<player>` (a player's own), so a turn reads them with its NPC and memory.
"""

from __future__ import annotations

from typing import Protocol

from aicore.performance import PerformanceSettings
from aicore.world.models import LoreFact, Npc, NpcMemory, PerformanceSetting, TurnContext


def world_pk(world_id: str) -> str:
    return f"WORLD#{world_id}"


def memory_sk(npc_id: str, player_id: str) -> str:
    return f"MEMORY#{npc_id}#{player_id}"


def turn_marker_sk(npc_id: str, player_id: str, turn_id: str) -> str:
    """A turn an NPC has already remembered (event consumers must tolerate redelivery)."""
    return f"TURN#{npc_id}#{player_id}#{turn_id}"


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

    def put_npc(self, npc: Npc) -> None: ...
    def put_lore(self, fact: LoreFact) -> None: ...
