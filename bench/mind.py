"""The mind's retrieval, measured: recall@5 of keyword-only, vector-only and hybrid relevance on
the labelled set (tests/data/mind_retrieval_set.json), how the fusion weight was chosen, and what
ranking costs a turn in milliseconds.

Fusion is tuned honestly: the keyword weight is picked on the odd-numbered queries (dev) only,
over a fixed grid, and reported on the even-numbered ones (held out) and on all of them.

    .venv/bin/python -m bench.mind

Prints a table and writes bench/results/mind.json.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from aicore.clock import stamp
from aicore.llm.embedding import StaticEmbedder
from aicore.mind.models import Memory, MemoryKind, MemorySource
from aicore.mind.policy import RetrievalWeights
from aicore.mind.retrieval import Budget, Query, keyword_scores, rank, vector_scores
from aicore.mind.vectors import to_bytes
from bench.common import machine, write_report

DATASET = Path(__file__).resolve().parents[1] / "tests" / "data" / "mind_retrieval_set.json"
K = 5
GRID = [round(0.05 * i, 2) for i in range(21)]  # keyword weight 0, 0.05, ..., 1
NOW = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)


def load(embedder: StaticEmbedder) -> tuple[list[Memory], list[dict[str, Any]]]:
    data = json.loads(DATASET.read_text(encoding="utf-8"))
    texts = [m["text"] for m in data["memories"]]
    vectors = embedder.embed(texts)
    at = stamp(NOW - timedelta(hours=1))
    memories = [
        Memory(
            memory_id=m["id"],
            world_id="demo",
            npc_id="mira",
            about="aldric",
            text=m["text"],
            kind=MemoryKind.PLAYER_SAID,
            source=MemorySource.TURN,
            importance=5,
            created_at=at,
            last_access=at,
            embedder=embedder.name,
            vector=to_bytes(vectors[i]),
        )
        for i, m in enumerate(data["memories"])
    ]
    return memories, data["queries"]


def recall_at_k(ranked_ids: Sequence[str], relevant: Sequence[str], k: int = K) -> float:
    return len(set(ranked_ids[:k]) & set(relevant)) / len(relevant)


class Relevance:
    """Keyword and vector scores of every query against every memory, computed once."""

    def __init__(self, memories: list[Memory], queries: list[dict[str, Any]], embedder: StaticEmbedder):
        self.ids = [m.memory_id for m in memories]
        query_vectors = embedder.embed([q["text"] for q in queries])
        self.keyword = {}
        self.vector = {}
        for q, vector in zip(queries, query_vectors, strict=True):
            query = Query(q["text"], vector, embedder.name)
            self.keyword[q["id"]] = keyword_scores([m.text for m in memories], q["text"])
            self.vector[q["id"]] = vector_scores(memories, query)

    def recall(self, queries: Sequence[dict[str, Any]], keyword_weight: float) -> float:
        values = []
        for q in queries:
            fused = keyword_weight * self.keyword[q["id"]] + (1 - keyword_weight) * self.vector[q["id"]]
            order = np.argsort(-fused, kind="stable")
            values.append(recall_at_k([self.ids[i] for i in order], q["relevant"]))
        return round(statistics.fmean(values), 4)


def tune(relevance: Relevance, dev: Sequence[dict[str, Any]]) -> float:
    """The grid weight with the best dev recall; ties go to the one nearest the middle (0.5)."""
    scored = [(relevance.recall(dev, w), -abs(w - 0.5), w) for w in GRID]
    return max(scored)[2]


def ranking_cost_ms(memories: list[Memory], embedder: StaticEmbedder, rounds: int = 200) -> dict[str, float]:
    """A turn's whole retrieval in process: embed the player's line, rank 120 memories, cut to budget."""
    pool = (memories * 2)[:120]
    weights = RetrievalWeights()
    timings = []
    for i in range(rounds):
        started = time.perf_counter()
        line = f"Do you remember what happened to my sister, friend number {i}?"
        vector = embedder.embed([line])[0]
        rank(pool, Query(line, vector, embedder.name), NOW, weights, Budget(240, 0.34))
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "memories": len(pool),
        "median_ms": round(statistics.median(timings), 3),
        "p95_ms": round(statistics.quantiles(timings, n=20)[-1], 3),
    }


def main() -> int:
    embedder = StaticEmbedder()
    memories, queries = load(embedder)
    relevance = Relevance(memories, queries, embedder)
    dev = [q for q in queries if int(q["id"][1:]) % 2 == 1]
    held_out = [q for q in queries if int(q["id"][1:]) % 2 == 0]
    chosen = tune(relevance, dev)
    methods = {"keyword only": 1.0, "vector only": 0.0, f"hybrid (keyword {chosen})": chosen}
    kinds = sorted({q["kind"] for q in queries})
    results: dict[str, Any] = {}
    for name, weight in methods.items():
        results[name] = {
            "keyword_weight": weight,
            "recall_at_5_all": relevance.recall(queries, weight),
            "recall_at_5_dev": relevance.recall(dev, weight),
            "recall_at_5_held_out": relevance.recall(held_out, weight),
            **{
                f"recall_at_5_{k}": relevance.recall([q for q in queries if q["kind"] == k], weight)
                for k in kinds
            },
        }
    report: dict[str, Any] = {
        "bench": "mind",
        "embedder": embedder.name,
        "memories": len(memories),
        "queries": len(queries),
        "query_kinds": {k: sum(q["kind"] == k for q in queries) for k in kinds},
        "k": K,
        "fusion": "keyword_weight x BM25/max + (1 - keyword_weight) x min-max(cosine)",
        "tuning": "keyword_weight picked on the odd-numbered queries over 0..1 step 0.05; ties nearest 0.5",
        "chosen_keyword_weight": chosen,
        "dev_curve": {str(w): relevance.recall(dev, w) for w in GRID},
        "results": results,
        "ranking_cost": ranking_cost_ms(memories, embedder),
        "machine": machine(),
    }
    print(f"{'method':32} {'all':>6} {'dev':>6} {'held':>6}  " + " ".join(f"{k:>10}" for k in kinds))
    for name, r in results.items():
        row = " ".join(f"{r[f'recall_at_5_{k}']:>10.3f}" for k in kinds)
        print(
            f"{name:32} {r['recall_at_5_all']:6.3f} {r['recall_at_5_dev']:6.3f} "
            f"{r['recall_at_5_held_out']:6.3f}  {row}"
        )
    print(f"ranking a turn's {report['ranking_cost']['memories']} memories: {report['ranking_cost']}")
    write_report("mind", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
