"""Fusion of keyword and vector scores: ranks, weights, filters, keyword-only."""

from __future__ import annotations

import numpy as np
import pytest

from aicore.knowledge.fusion import FusionWeights, fuse, ranks, top

ALL = np.ones(4, dtype=bool)


def test_ranks_count_only_candidates_best_first() -> None:
    scores = np.asarray([0.1, 0.9, 0.5, 0.7], dtype=np.float32)
    candidates = np.asarray([True, True, False, True])
    assert ranks(scores, candidates).tolist() == [3.0, 1.0, float("inf"), 2.0]


@pytest.mark.parametrize("method", ["rrf", "weighted"])
def test_a_chunk_good_in_both_lists_beats_chunks_good_in_one(method: str) -> None:
    keyword = np.asarray([9.0, 0.0, 8.0, 0.0], dtype=np.float32)  # 0 and 2 share words with the query
    vector = np.asarray([0.05, 0.9, 0.8, 0.1], dtype=np.float32)  # 1 and 2 mean the same
    total = fuse(keyword, vector, ALL, FusionWeights(method=method))
    assert top(total, 1) == [2]


@pytest.mark.parametrize("method", ["rrf", "weighted"])
def test_a_chunk_not_allowed_scores_nothing(method: str) -> None:
    keyword = np.asarray([9.0, 1.0, 0.0, 0.0], dtype=np.float32)
    vector = np.asarray([0.9, 0.1, 0.0, 0.0], dtype=np.float32)
    allowed = np.asarray([False, True, True, True])
    total = fuse(keyword, vector, allowed, FusionWeights(method=method))
    assert total[0] == 0
    assert 0 not in top(total, 4)


def test_without_a_vector_only_keyword_matches_rank() -> None:
    keyword = np.asarray([0.0, 2.0, 3.0, 0.0], dtype=np.float32)
    total = fuse(keyword, None, ALL, FusionWeights())
    assert top(total, 10) == [2, 1]


@pytest.mark.parametrize("method", ["rrf", "weighted"])
def test_weights_shift_the_balance(method: str) -> None:
    keyword = np.asarray([5.0, 0.0], dtype=np.float32)
    vector = np.asarray([0.1, 0.9], dtype=np.float32)
    both = np.ones(2, dtype=bool)
    assert top(fuse(keyword, vector, both, FusionWeights(method=method, keyword=3, vector=1)), 1) == [0]
    assert top(fuse(keyword, vector, both, FusionWeights(method=method, keyword=0, vector=1)), 1) == [1]


def test_top_is_bounded_and_ordered() -> None:
    total = np.asarray([0.3, 0.0, 0.9, 0.5, 0.1])
    assert top(total, 3) == [2, 3, 0]
    assert top(total, 0) == []
