"""Hybrid ranking: keyword (BM25) and vector (cosine) scores fused into one.

Two methods, chosen in settings:
- `rrf`, reciprocal rank fusion: `w_k / (k + keyword rank) + w_v / (k + vector rank)`. Ranks, not
  scores, so BM25's unbounded scale and cosine's narrow one need no calibration.
- `weighted`: `w_k * keyword / ceiling + w_v * max(cosine, 0)`, each part in [0, 1], where the
  ceiling is the best score the query could get (each of its terms where it scores highest): a
  chunk that shares one stray word of a five-word query gets a fifth of the keyword weight, so
  keyword noise does not bury a chunk that means the same as the query.
A chunk no query word occurs in gets no keyword part; without a query vector, only keywords rank.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from numpy.typing import NDArray


class FusionWeights(BaseModel):
    model_config = ConfigDict(frozen=True)

    # Tuned on the labelled lore set (bench/knowledge.py): see docs/knowledge.md.
    method: Literal["rrf", "weighted"] = "weighted"
    keyword: float = Field(0.3, ge=0, le=10)
    vector: float = Field(1.0, ge=0, le=10)
    rrf_k: int = Field(60, ge=1, le=1000)


def ranks(scores: NDArray[np.float32], candidates: NDArray[np.bool_]) -> NDArray[np.float64]:
    """1 for the best candidate, 2 for the next…; infinity where not a candidate. Ties keep order."""
    order = np.argsort(-scores, kind="stable")
    order = order[candidates[order]]
    ranked = np.full(scores.shape, np.inf)
    ranked[order] = np.arange(1, len(order) + 1)
    return ranked


def fuse(
    keyword: NDArray[np.float32],
    vector: NDArray[np.float32] | None,
    allowed: NDArray[np.bool_],
    weights: FusionWeights,
    keyword_ceiling: float | None = None,
) -> NDArray[np.float64]:
    """The fused score of every chunk; chunks not `allowed` (or matching nothing) score 0.

    `keyword_ceiling`: the query's best possible keyword score (`weighted`; default: the best
    keyword score found)."""
    matched = allowed & (keyword > 0)
    if weights.method == "rrf":
        total = np.where(matched, weights.keyword / (weights.rrf_k + ranks(keyword, matched)), 0.0)
        if vector is not None:
            total += np.where(allowed, weights.vector / (weights.rrf_k + ranks(vector, allowed)), 0.0)
        return total
    best = keyword_ceiling or (float(keyword[matched].max()) if matched.any() else 0.0)
    total = np.where(matched, weights.keyword * keyword / best, 0.0) if best > 0 else np.zeros(len(keyword))
    if vector is not None:
        total += np.where(allowed, weights.vector * np.clip(vector, 0.0, None), 0.0)
    return np.asarray(total, dtype=np.float64)


def top(total: NDArray[np.float64], limit: int) -> list[int]:
    """Indices of the `limit` best positive scores, best first."""
    positive = np.flatnonzero(total > 0)
    if len(positive) > limit:
        positive = positive[np.argpartition(-total[positive], limit - 1)[:limit]]
    return [int(i) for i in positive[np.argsort(-total[positive], kind="stable")]]
