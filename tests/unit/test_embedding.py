"""The static embedder: offline, unit vectors, and nearer for texts that mean the same."""

from __future__ import annotations

import numpy as np

from aicore.llm.embedding import StaticEmbedder

EMBEDDER = StaticEmbedder()


def test_vectors_are_unit_length_and_blank_text_is_zero() -> None:
    vectors = EMBEDDER.embed(["The blacksmith forges swords.", "", "   "])
    assert vectors.shape == (3, EMBEDDER.dimensions)
    assert vectors.dtype == np.float32
    assert abs(float(np.linalg.norm(vectors[0])) - 1.0) < 1e-5
    assert not vectors[1].any()
    assert not vectors[2].any()


def test_texts_that_mean_the_same_are_nearer_than_unrelated_ones() -> None:
    query, paraphrase, unrelated = EMBEDDER.embed(
        [
            "Where can I buy a sword?",
            "The smith sells blades and weapons.",
            "It rained all night on the lake.",
        ]
    )
    assert float(query @ paraphrase) > float(query @ unrelated)


def test_the_same_text_always_gives_the_same_vector() -> None:
    first, second = EMBEDDER.embed(["Mira runs the inn."] * 2)
    assert np.array_equal(first, second)
    assert EMBEDDER.name == "static:wordllama-l2_supercat-256"
