"""What the NPC brings to a turn besides its sheet: memories of the player (and general ones), the
lore it may know, how it feels about the player, its mood.

Nothing here makes an AWS call on a warm container, and nothing calls a model unless the
performance mode allows it:
- the memories come from the turn's parallel read (`MindStore.turn_memories`: one Query);
- the index pointers come from the turn's world batch (`TurnContext.knowledge`); the index itself
  is cached per warm container (one S3 GetObject per new index version);
- the player's line is embedded once, in process, by the static embedder: that vector ranks the
  memories and searches a lore index built with the same embedder;
- an index built by the embed tier is searched by keywords alone, unless the mode allows one
  model call for the query (`TurnProfile.lore_query_by_model`: `quality`); if that call fails, by
  keywords again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from aicore.knowledge.base import KnowledgeBase
from aicore.knowledge.filters import Audience
from aicore.knowledge.models import ChunkHit
from aicore.llm.embedding import Embedder
from aicore.mind.models import MemorySet, ScoredMemory
from aicore.mind.policy import MindPolicy
from aicore.mind.store import MindStore
from aicore.mind.turn import (
    EmotionView,
    RelationshipView,
    emotion_view,
    prompt_section,
    recall,
    relationship_view,
)
from aicore.observability import logger
from aicore.world.models import Npc, TurnContext

if TYPE_CHECKING:
    from aicore.llm.embedding import Vectors

LORE_LIMIT = 3  # chunks searched for; those that fit `LORE_TOKEN_BUDGET` go into the prompt
LORE_TOKEN_BUDGET = 300
# The embed tier's answer for a lore query (quality mode), times the router's deadline scale: past
# it, the index is searched by keywords (a CPU embedding model answers a line in ~10-20 ms).
LORE_QUERY_TIMEOUT_S = 0.3
CHARS_PER_TOKEN = 4


@dataclass
class TurnMind:
    """What a turn recalls with: the NPC's memories, the world's lore, and the in-process embedder."""

    memories: MindStore
    knowledge: KnowledgeBase
    embedder: Embedder  # the static one: the line's vector costs microseconds, no call
    policy: MindPolicy = field(default_factory=MindPolicy)
    lore_limit: int = LORE_LIMIT
    lore_token_budget: int = LORE_TOKEN_BUDGET


@dataclass(frozen=True)
class Recollection:
    memories: list[ScoredMemory]  # best first, within the mind's prompt budget
    lore: list[ChunkHit]  # best first, within the lore budget, only what the NPC may know
    relationship: RelationshipView
    emotion: EmotionView

    @property
    def memory_ids(self) -> list[str]:
        return [s.memory.memory_id for s in self.memories]

    def prompt_section(self) -> str:
        """The system prompt's lines about the NPC's mind: memories, relationship, mood."""
        return prompt_section(self.memories, self.relationship, self.emotion)


def recollect(
    mind: TurnMind,
    npc: Npc,
    context: TurnContext,
    memories: MemorySet,
    line: str,
    now: datetime,
    *,
    lore_query_by_model: bool = False,
) -> Recollection:
    """Everything of the NPC's mind and knowledge that goes into this turn's prompt."""
    vector = mind.embedder.embed([line])[0]
    recalled = recall(memories, line, mind.embedder, now, mind.policy, vector=vector)
    lore = _lore(mind, npc, context, line, {mind.embedder.name: vector}, lore_query_by_model)
    return Recollection(
        memories=recalled,
        lore=within_budget(lore, mind.lore_token_budget),
        relationship=relationship_view(context.relationship),
        emotion=emotion_view(context.emotion, npc.temperament, now, mind.policy),
    )


def _lore(
    mind: TurnMind,
    npc: Npc,
    context: TurnContext,
    line: str,
    vectors: dict[str, Vectors],
    by_model: bool,
) -> list[ChunkHit]:
    """The chunks the NPC may know, best first. Lore enriches a reply but is not needed for one:
    if the index cannot be read or the embed tier fails, the turn goes on with keywords or none."""
    if not context.knowledge:
        return []
    audience = Audience.npc(npc.npc_id, npc.faction, npc.region)

    def search(embed_query: bool) -> list[ChunkHit]:
        return mind.knowledge.relevant(
            npc.world_id,
            audience,
            line,
            limit=mind.lore_limit,
            pointers=context.knowledge,
            vectors=vectors,
            embed_query=embed_query,
        )

    # A failed model call is retried by keywords; a failed index read (S3, a bad object) gives none.
    for embed_query in (True, False) if by_model else (False,):
        try:
            return search(embed_query)
        except Exception as error:  # lore enriches the reply: it may never cost the player one
            logger.warning(
                "Lore search failed: the turn goes on without it",
                extra={"npc_id": npc.npc_id, "error": type(error).__name__, "by_model": embed_query},
            )
    return []


def within_budget(hits: Sequence[ChunkHit], budget_tokens: int) -> list[ChunkHit]:
    """The best hits whose text fits the budget together, in order; the best one is cut at a word
    to fit if it alone is over."""
    limit = budget_tokens * CHARS_PER_TOKEN
    kept: list[ChunkHit] = []
    used = 0
    for hit in hits:
        size = len(hit.text)
        if used + size <= limit:
            kept.append(hit)
            used += size
        elif not kept:
            kept.append(hit.model_copy(update={"text": hit.text[:limit].rsplit(" ", 1)[0] + "…"}))
            used = limit
    return kept
