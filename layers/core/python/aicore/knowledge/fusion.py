"""Hybrid ranking: keyword (BM25) and vector (cosine) scores fused into one.

Two methods, chosen in settings:
- `rrf`, reciprocal rank fusion: `w_k / (k + keyword rank) + w_v / (k + vector rank)`. Ranks, not
  scores, so BM25's unbounded scale and cosine's narrow one need no calibration.
- `weighted`: `w_k * keyword / best keyword + w_v * max(cosine, 0)`, each in [0, 1].
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

    method: Literal["rrf", "weighted"] = "rrf"
    keyword: float = Field(1.0, ge=0, le=10)
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
) -> NDArray[np.float64]:
    """The fused score of every chunk; chunks not `allowed` (or matching nothing) score 0."""
    matched = allowed & (keyword > 0)
    if weights.method == "rrf":
        total = np.where(matched, weights.keyword / (weights.rrf_k + ranks(keyword, matched)), 0.0)
        if vector is not None:
            total += np.where(allowed, weights.vector / (weights.rrf_k + ranks(vector, allowed)), 0.0)
        return total
    best = float(keyword[matched].max()) if matched.any() else 0.0
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
