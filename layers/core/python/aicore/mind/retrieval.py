"""Ranking memories for a turn: weighted recency + importance + hybrid relevance, within a budget.

- recency: `hourly_decay` ** hours since the memory was last accessed (1 when just used);
- importance: the memory's 1..10, as 0.1..1;
- relevance: BM25 (the knowledge base's keyword index over the memories ranked: stemmed
  keywords, so a name the player says again finds its memory) fused with the cosine of static
  embeddings (meaning, so a paraphrase finds it too): `keyword` x BM25/(BM25 +
  `keyword_saturation`) + (1 - `keyword`) x cosine/`cosine_ceiling` (clipped to 0..1). Both
  scales are absolute, not stretched over the candidates, so a line that relates to nothing
  lifts nothing. Memories whose vector is from another embedder, or none, are ranked on
  keywords alone: spaces are never mixed.

Pure computation: no AWS call and no model call (the query vector is made in process).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from aicore.knowledge.keyword import KeywordIndex
from aicore.mind.models import Memory, ScoredMemory, Scores
from aicore.mind.policy import RetrievalWeights
from aicore.mind.vectors import matrix

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Floats = NDArray[np.float64]
else:
    Floats = Any

CHARS_PER_TOKEN = 4
MEMORY_OVERHEAD_TOKENS = 3  # the bullet and line break around each memory in the prompt


@dataclass(frozen=True)
class Query:
    """What a turn searches with: the player's line, its vector and which embedder made it."""

    text: str
    vector: Any  # a unit float32 vector (numpy), or None: keywords only
    embedder: str


@dataclass(frozen=True)
class Budget:
    tokens: int
    general_share: float = 1.0  # general memories take at most this share of `tokens`


def memory_tokens(memory: Memory) -> int:
    return len(memory.text) // CHARS_PER_TOKEN + MEMORY_OVERHEAD_TOKENS


def keyword_scores(texts: Sequence[str], query_text: str, saturation: float = 3.0) -> Floats:
    """BM25 of each text for the query (the knowledge base's keyword index), as s / (s + saturation): 0..1."""
    if not texts:
        return np.zeros(0)
    raw = np.maximum(KeywordIndex.build(texts).scores(query_text).astype(np.float64), 0.0)
    scaled: Floats = raw / (raw + saturation)
    return scaled


def vector_scores(memories: Sequence[Memory], query: Query, ceiling: float = 0.4) -> Floats:
    """Cosine of each memory with the query (memories of this embedder only), / ceiling, clipped: 0..1."""
    scores = np.zeros(len(memories))
    if query.vector is None:
        return scores
    dimensions = len(query.vector)
    same_space = [
        i for i, m in enumerate(memories) if m.embedder == query.embedder and len(m.vector) == dimensions * 2
    ]
    if not same_space:
        return scores
    rows = matrix([memories[i].vector for i in same_space], dimensions)
    cosines = rows @ np.asarray(query.vector, dtype=np.float32)
    scores[same_space] = np.clip(cosines / ceiling, 0.0, 1.0)
    return scores


def recency(memory: Memory, now: datetime, hourly_decay: float) -> float:
    hours = max(0.0, (now - datetime.fromisoformat(memory.last_access)).total_seconds() / 3600)
    return float(hourly_decay**hours)


def rank(
    memories: Sequence[Memory],
    query: Query,
    now: datetime,
    weights: RetrievalWeights,
    budget: Budget | None = None,
) -> list[ScoredMemory]:
    """The memories best first, with their scores; within `budget` when one is given."""
    if not memories:
        return []
    keyword = keyword_scores([m.text for m in memories], query.text, weights.keyword_saturation)
    vector = vector_scores(memories, query, weights.cosine_ceiling)
    relevance = weights.keyword * keyword + (1 - weights.keyword) * vector
    recencies = np.array([recency(m, now, weights.hourly_decay) for m in memories])
    importance = np.array([m.importance / 10 for m in memories])
    totals = weights.recency * recencies + weights.importance * importance + weights.relevance * relevance
    order = sorted(
        range(len(memories)), key=lambda i: (-totals[i], memories[i].created_at, memories[i].memory_id)
    )
    if budget is not None:
        order = _within(order, memories, budget)

    def scored(i: int) -> ScoredMemory:
        return ScoredMemory(
            memory=memories[i],
            scores=Scores(
                recency=round(float(recencies[i]), 4),
                importance=round(float(importance[i]), 4),
                relevance=round(float(relevance[i]), 4),
                total=round(float(totals[i]), 4),
            ),
            keyword=round(float(keyword[i]), 4),
            vector=round(float(vector[i]), 4),
        )

    return [scored(i) for i in order]


def _within(order: Sequence[int], memories: Sequence[Memory], budget: Budget) -> list[int]:
    chosen: list[int] = []
    used = general_used = 0
    general_cap = int(budget.tokens * budget.general_share)
    for i in order:
        cost = memory_tokens(memories[i])
        if used + cost > budget.tokens:
            continue
        if memories[i].general:
            if general_used + cost > general_cap:
                continue
            general_used += cost
        chosen.append(i)
        used += cost
    return chosen


def within_budget(scored: Sequence[ScoredMemory], budget: Budget) -> list[ScoredMemory]:
    """The best memories that fit `budget.tokens`, general ones within their share; best first."""
    keep = set(_within(range(len(scored)), [s.memory for s in scored], budget))
    return [s for i, s in enumerate(scored) if i in keep]
