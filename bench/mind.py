"""The mind's retrieval, measured: recall@5 of keyword-only, vector-only and hybrid relevance on
the labelled set (tests/data/mind_retrieval_set.json), how the fusion weight was chosen, and what
ranking costs a turn in milliseconds.

Fusion is tuned honestly, by 2-fold cross-validation: the keyword weight is picked on the
odd-numbered queries over a fixed grid and measured on the even-numbered ones, then the other way
round; the held-out recall is the mean of the two folds. The scales of both signals are fixed
(not tuned): BM25 s/(s + 3), cosine/0.4.

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
from bench.common import embedded_aws, machine, write_report

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
        weights = RetrievalWeights()
        for q, vector in zip(queries, query_vectors, strict=True):
            query = Query(q["text"], vector, embedder.name)
            texts = [m.text for m in memories]
            self.keyword[q["id"]] = keyword_scores(texts, q["text"], weights.keyword_saturation)
            self.vector[q["id"]] = vector_scores(memories, query, weights.cosine_ceiling)

    def recall(self, queries: Sequence[dict[str, Any]], keyword_weight: float) -> float:
        values = []
        for q in queries:
            fused = keyword_weight * self.keyword[q["id"]] + (1 - keyword_weight) * self.vector[q["id"]]
            order = np.argsort(-fused, kind="stable")
            values.append(recall_at_k([self.ids[i] for i in order], q["relevant"]))
        return round(statistics.fmean(values), 4)


def folds(queries: Sequence[dict[str, Any]]) -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """(tuning, held-out) pairs: odd-numbered queries, even-numbered ones, and the other way round."""
    odd = [q for q in queries if int(q["id"][1:]) % 2 == 1]
    even = [q for q in queries if int(q["id"][1:]) % 2 == 0]
    return [(odd, even), (even, odd)]


def cross_validated(relevance: Relevance, queries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Held-out recall@5 of each method, the mean over both folds, and the weight each fold picked."""
    picked = [tune(relevance, dev) for dev, _ in folds(queries)]
    held = {
        "hybrid": [relevance.recall(h, w) for (_, h), w in zip(folds(queries), picked, strict=True)],
        "keyword only": [relevance.recall(h, 1.0) for _, h in folds(queries)],
        "vector only": [relevance.recall(h, 0.0) for _, h in folds(queries)],
    }
    return {
        "weights_picked": picked,
        "held_out_per_fold": held,
        "held_out_mean": {k: round(statistics.fmean(v), 4) for k, v in held.items()},
    }


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
    validation = cross_validated(relevance, queries)
    chosen = RetrievalWeights().keyword
    methods = {"keyword only": 1.0, "vector only": 0.0, f"hybrid (keyword {chosen})": chosen}
    kinds = sorted({q["kind"] for q in queries})
    results: dict[str, Any] = {}
    for name, weight in methods.items():
        results[name] = {
            "keyword_weight": weight,
            "recall_at_5_all": relevance.recall(queries, weight),
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
        "fusion": "w x BM25/(BM25 + 3) + (1 - w) x clip(cosine / 0.4)",
        "tuning": "2-fold cross-validation (odd / even query ids), w over 0..1 by 0.05, ties nearest 0.5",
        "cross_validation": validation,
        "policy_keyword_weight": chosen,
        "curve_all_queries": {str(w): relevance.recall(queries, w) for w in GRID},
        "results": results,
        "ranking_cost": ranking_cost_ms(memories, embedder),
        "long_game": long_game_outcome(),
        "aws": aws_costs(),
        "machine": machine(),
    }
    print(f"{'method':28} {'all':>6}  " + " ".join(f"{k:>10}" for k in kinds))
    for name, r in results.items():
        row = " ".join(f"{r[f'recall_at_5_{k}']:>10.3f}" for k in kinds)
        print(f"{name:28} {r['recall_at_5_all']:6.3f}  {row}")
    print(f"held out (2-fold cross-validation, mean): {validation['held_out_mean']}")
    print(f"weights picked per fold: {validation['weights_picked']}")
    print(f"ranking a turn's {report['ranking_cost']['memories']} memories: {report['ranking_cost']}")
    print(f"long game: {report['long_game']}")
    print(f"AWS calls and ms on moto: {json.dumps(report['aws'], indent=1)}")
    write_report("mind", report)
    return 0


class _NoEvents:
    def publish(self, source: str, detail_type: str, detail: Any) -> None:
        return None


def aws_costs(turns: int = 120) -> dict[str, Any]:
    """AWS calls and milliseconds on moto server (~6 ms a call here): the turn's one Query with the
    ranking after it, and the consumer's work after a turn, over a pair that fills to its bound."""
    import collections

    from aicore.aws.mind_store import DynamoMindStore
    from aicore.aws.world_store import DynamoWorldStore
    from aicore.mind.policy import MindPolicy
    from aicore.mind.service import MindDeps, NpcDirectory, observe_turn
    from aicore.mind.turn import recall
    from aicore.topology import physical_name
    from bench.common import CallCounter
    from tests.fakes import ScriptedAppraiser
    from tests.minds import BORIN, MIRA, SABLE, SMALL_TALK, START, turn

    with embedded_aws("local"):
        world = DynamoWorldStore(physical_name("local", "world"))
        for npc in (MIRA, BORIN, SABLE):
            world.put_npc(npc)
        store = DynamoMindStore(physical_name("local", "mind"))
        policy = MindPolicy()
        deps = MindDeps(
            store, world, StaticEmbedder(), ScriptedAppraiser(), _NoEvents(), NpcDirectory(world), policy
        )
        counter = CallCounter()
        after: list[tuple[float, collections.Counter[str]]] = []
        reads: list[tuple[float, float, collections.Counter[str]]] = []
        for n in range(1, turns + 1):
            at = START + timedelta(minutes=15 * n)
            line = SMALL_TALK[n % len(SMALL_TALK)].format(n=n)
            with counter.counting() as calls:
                started = time.perf_counter()
                memories = store.turn_memories("demo", "mira", "p1")
                queried = time.perf_counter()
                used = recall(memories, line, deps.embedder, at, policy)
                ranked = time.perf_counter()
            reads.append(((queried - started) * 1000, (ranked - queried) * 1000, calls))
            with counter.counting() as calls:
                started = time.perf_counter()
                observe_turn(deps, turn(n, line, at=at, used=[u.memory.memory_id for u in used]))
                after.append(((time.perf_counter() - started) * 1000, calls))
        late = [r for r in reads[-40:]]
        return {
            "pair_memories_at_end": len(store.read_pair("demo", "mira", "p1").memories),
            "turn_read": {
                "calls": dict(late[-1][2]),
                "query_ms_median": round(statistics.median(r[0] for r in late), 2),
                "rank_ms_median": round(statistics.median(r[1] for r in late), 2),
            },
            "after_turn": {
                "calls_median": statistics.median(sum(c.values()) for _, c in after[-40:]),
                "calls_max": max(sum(c.values()) for _, c in after[-40:]),
                "calls_by_operation_last_40": dict(sum((c for _, c in after[-40:]), collections.Counter())),
                "ms_median": round(statistics.median(ms for ms, _ in after[-40:]), 1),
            },
        }


def long_game_outcome() -> dict[str, Any]:
    """The 2,000-turn game of tests/unit/test_mind_long_game.py, with how long a turn of it took."""
    import logging

    from aicore.observability import logger
    from tests.minds import long_game

    logger.setLevel(logging.WARNING)
    started = time.perf_counter()
    outcome = long_game(turns=2000)
    outcome["ms_per_turn"] = round((time.perf_counter() - started) * 1000 / 2000, 2)
    return outcome


if __name__ == "__main__":
    raise SystemExit(main())
