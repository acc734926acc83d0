"""Memories: what an NPC observed, was told, concluded or heard, each scored for retrieval."""

from __future__ import annotations

import hashlib
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

MAX_MEMORY_CHARS = 600  # what one memory may hold: a player's line is cut here


class MemorySource(StrEnum):
    TURN = "turn"  # a line of a conversation
    EVENT = "event"  # a world event the NPC witnessed
    REFLECTION = "reflection"  # an insight the NPC drew from other memories
    GOSSIP = "gossip"  # heard from another NPC
    COMPACTION = "compaction"  # a summary of older memories that were folded together


class MemoryKind(StrEnum):
    PLAYER_SAID = "player_said"
    NPC_SAID = "npc_said"
    WITNESSED = "witnessed"
    INSIGHT = "insight"
    HEARSAY = "hearsay"
    SUMMARY = "summary"


class Memory(BaseModel):
    """One memory. `about` is the player it is about (None: a general memory of the NPC).

    `vector` is the text's embedding as float16 bytes, made by `embedder`: vectors of another
    embedder are never compared with it (retrieval uses keywords only for them until re-indexed).
    """

    model_config = ConfigDict(frozen=True)

    memory_id: str
    world_id: str
    npc_id: str
    about: str | None = None
    text: str = Field(max_length=MAX_MEMORY_CHARS * 2)
    kind: MemoryKind
    source: MemorySource
    importance: int = Field(ge=1, le=10)
    created_at: str
    last_access: str
    subjects: tuple[str, ...] = ()  # player or NPC ids the memory is about
    embedder: str = ""
    vector: bytes = b""
    cites: tuple[str, ...] = ()  # reflections and summaries: the memories they came from
    heard_from: str | None = None  # gossip: the NPC who told it
    origin: str | None = None  # gossip: the memory it was heard as
    shareable: bool = False  # may travel as gossip
    shared_with: tuple[str, ...] = ()  # NPCs it travelled to (their copies go when it is forgotten)

    @property
    def general(self) -> bool:
        return self.about is None


def memory_id(*parts: str) -> str:
    """A deterministic id: the same observation always gets the same id, so it is written once."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"mem_{digest[:24]}"


def heard_memory_id(world_id: str, listener: str, told_id: str) -> str:
    """The id of the copy of memory `told_id` that NPC `listener` heard as gossip."""
    return memory_id(world_id, listener, told_id, "heard")


class MemorySet(BaseModel):
    """What one turn reads of an NPC's mind: its memories of the player and its general ones."""

    about: list[Memory] = Field(default_factory=list)
    general: list[Memory] = Field(default_factory=list)

    @property
    def all(self) -> list[Memory]:
        return [*self.about, *self.general]


class Scores(BaseModel):
    recency: float
    importance: float
    relevance: float
    total: float


class ScoredMemory(BaseModel):
    memory: Memory
    scores: Scores
    keyword: float = 0.0  # the relevance's two parts, each 0..1 over the memories ranked
    vector: float = 0.0
