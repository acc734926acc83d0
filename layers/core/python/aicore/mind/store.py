"""Where memories live: the `mind` table, one partition per NPC x player and one per NPC.

```
pk = PAIR#<world>#<npc>#<player>   sk = MEM#<memory_id>   memories of the NPC about the player
                                   sk = GENERAL           a copy of the NPC's general memories (see below)
                                   sk = STATE             importance since the last reflection, reflections
pk = NPC#<world>#<npc>             sk = MEM#<memory_id>   general memories (events, hearsay about NPCs)
                                   sk = STATE             the general memories' version
                                   sk = GOSSIP#<day>[#<teller>]   gossip heard that day (expire)
```

A turn reads its pair partition with ONE Query: the memories about the player, the copy of the
general ones, and the state. The copy is refreshed after a turn (off the player's path) when the
NPC's general memories changed since: a general memory reaches a pair's turns one turn late, and
general memories cost a turn no second read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, Field

from aicore.mind.models import Memory, MemorySet

MEMORY_PREFIX = "MEM#"
GENERAL_SK = "GENERAL"
STATE_SK = "STATE"


def pair_pk(world_id: str, npc_id: str, player_id: str) -> str:
    return f"PAIR#{world_id}#{npc_id}#{player_id}"


def npc_pk(world_id: str, npc_id: str) -> str:
    return f"NPC#{world_id}#{npc_id}"


def partition_of(world_id: str, npc_id: str, about: str | None) -> str:
    return npc_pk(world_id, npc_id) if about is None else pair_pk(world_id, npc_id, about)


def memory_sk(memory_id: str) -> str:
    return f"{MEMORY_PREFIX}{memory_id}"


def gossip_sk(day: str, teller: str | None = None) -> str:
    return f"GOSSIP#{day}" if teller is None else f"GOSSIP#{day}#{teller}"


class MindState(BaseModel):
    """Bookkeeping of a partition: importance told since the last reflection, reflections made
    (pairs); the version of the general memories (NPCs) and which version a pair's copy holds."""

    importance_since_reflection: int = 0
    reflections: int = 0
    general_version: int = 0


class PairView(BaseModel):
    """A pair partition as one Query reads it."""

    memories: list[Memory] = Field(default_factory=list)
    general: list[Memory] = Field(default_factory=list)
    general_version: int = -1  # of the copy; -1: no copy yet
    state: MindState = MindState()

    def memory_set(self) -> MemorySet:
        return MemorySet(about=self.memories, general=self.general)


class GeneralView(BaseModel):
    memories: list[Memory] = Field(default_factory=list)
    state: MindState = MindState()


class GossipLimits(BaseModel):
    day: str  # YYYY-MM-DD of the game's clock
    per_pair: int
    per_listener: int


class MindStore(Protocol):
    def turn_memories(self, world_id: str, npc_id: str, player_id: str) -> MemorySet:
        """The NPC's memories about the player and its general ones: one Query."""
        ...

    def read_pair(self, world_id: str, npc_id: str, player_id: str) -> PairView:
        """The whole pair partition: one Query."""
        ...

    def read_general(self, world_id: str, npc_id: str) -> GeneralView:
        """The NPC's general memories and state: one Query."""
        ...

    def general_version(self, world_id: str, npc_id: str) -> int:
        """The version of the NPC's general memories (0: none yet): one GetItem."""
        ...

    def add(self, memories: Sequence[Memory], importance: int) -> bool:
        """Write new memories of one partition, all or none, and count `importance` toward the
        next reflection (general memories bump the general version). False when they were
        already written (a redelivery): nothing changes then."""
        ...

    def touch(self, world_id: str, npc_id: str, about: str | None, memory_ids: Sequence[str], at: str) -> int:
        """Set `last_access` of memories used at `at` (never back in time); how many changed."""
        ...

    def compact(
        self, world_id: str, npc_id: str, about: str | None, remove: Sequence[str], summary: Memory | None
    ) -> None:
        """Remove memories of one partition and add their summary, all or none."""
        ...

    def copy_general(
        self, world_id: str, npc_id: str, player_id: str, general: Sequence[Memory], version: int
    ) -> None:
        """The pair's copy of the NPC's general memories, at `version` (only ever moved forward)."""
        ...

    def reflected(
        self, world_id: str, npc_id: str, player_id: str, insights: Sequence[Memory], reflection: int
    ) -> bool:
        """Write reflection number `reflection`'s insights and start counting importance anew, once:
        False when that reflection was already recorded."""
        ...

    def gossip(self, heard: Memory, told: Memory, limits: GossipLimits) -> bool:
        """`heard` (a listener's copy of `told`) is written once, within the day's limits per teller
        and per listener; `told` records where it went. False: already heard, or over a limit."""
        ...

    def revector(self, memory: Memory, old_embedder: str) -> bool:
        """Store `memory`'s new embedding (another embedder's) if it still has `old_embedder`'s."""
        ...

    def get(self, world_id: str, npc_id: str, about: str | None, memory_id: str) -> Memory | None: ...

    def forget(self, world_id: str, npc_id: str, about: str | None, memory_id: str) -> Memory | None:
        """Delete a memory and the copies it travelled as (gossip); the memory, or None if unknown."""
        ...
