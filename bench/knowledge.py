"""Knowledge base: retrieval quality, index load and search latency, ingestion of a 1 MB corpus.

    .venv/bin/python -m bench.knowledge [--searches 200] [--skip-ingestion]

1. recall@5 (and @1) of keyword-only, vector-only and hybrid search on the labelled lore set
   (tests/knowledge_data.py: 90 passages in context, 33 queries of three kinds) for each embedder:
   the static one (WordLlama, in process) and the embed tier (all-MiniLM-L6-v2 behind the local
   model server, through `InvokeEndpoint`, as in the cloud).
2. A 1 MB corpus indexed (static embedder); in a fresh process (a cold Lambda container): import,
   index load from bytes, then search latency p50/p95 with the query embedded in process.
3. The same corpus ingested through the real flow on the local runtime (moto runs our ASL), and the
   embed tier's throughput on its chunks (the CPU model makes embed-tier ingestion slower here).

Writes bench/results/knowledge.json. Times are this machine's (2 shared cores): compare them on one
machine only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

import numpy as np

from aicore.auth import Role
from aicore.aws.sagemaker_runtime import EndpointEmbedder, SageMakerEndpoint
from aicore.knowledge.chunking import ChunkPolicy, chunk_document
from aicore.knowledge.filters import Audience
from aicore.knowledge.fusion import FusionWeights
from aicore.knowledge.index import KnowledgeIndex
from aicore.knowledge.models import Chunk, DocumentSource, KnowledgeTags
from aicore.llm.embedding import Embedder, StaticEmbedder
from aicore.llm.endpoint import TierTarget
from aicore.local.embedded_aws import free_port
from aicore.local.model_server import local_embedding_endpoint_names
from aicore.local.runtime import ENV, LocalRuntime, RuntimeOptions, local_token
from bench.common import CallCounter, machine, write_report
from tests.knowledge_data import LORE, QUERIES, in_context, lore_corpus

MODES: dict[str, tuple[FusionWeights, bool]] = {
    "keyword": (FusionWeights(vector=0.0), False),
    "vector": (FusionWeights(keyword=0.0), True),
    "hybrid": (FusionWeights(), True),  # the default: weighted, keyword 0.3
    "hybrid_rrf": (FusionWeights(method="rrf", keyword=1.0), True),
}

COLD_SEARCH = """
import json, sys, time
started = time.perf_counter()
from aicore.knowledge.index import KnowledgeIndex
from aicore.knowledge.filters import Audience
from aicore.knowledge.fusion import FusionWeights
from aicore.llm.embedding import StaticEmbedder
imported = time.perf_counter()
data = open(sys.argv[1], "rb").read()
read = time.perf_counter()
index = KnowledgeIndex.from_bytes(data)
loaded = time.perf_counter()
embedder = StaticEmbedder()
embedder.embed(["warm up"])
queries = json.loads(sys.argv[2])
first = None
times = []
for n, query in enumerate(queries):
    begin = time.perf_counter()
    if index.embedder == embedder.name:
        vector = embedder.embed([query])[0]
    else:  # an index of another embedder's size: a stand-in query vector (times only)
        vector = index.vectors[n % len(index.vectors)]
    index.search(query, vector, Audience.npc("borin", "smiths", "Emberfall"), 5, FusionWeights())
    times.append((time.perf_counter() - begin) * 1000)
print(json.dumps({"import_ms": (imported - started) * 1000, "read_ms": (read - imported) * 1000,
                  "load_ms": (loaded - read) * 1000, "search_ms": times}))
"""


def recall(embedder: Embedder) -> dict[str, Any]:
    chunks = [Chunk(chunk_id=k, document_id=k, title="Lore of Emberfall", text=in_context(k)) for k in LORE]
    index = KnowledgeIndex.build(
        "bench", "v", embedder.name, chunks, embedder.embed([c.searchable() for c in chunks])
    )
    vectors = embedder.embed([q.text for q in QUERIES])
    report: dict[str, Any] = {}
    for mode, (weights, use_vector) in MODES.items():
        found_at: list[int | None] = []
        for query, vector in zip(QUERIES, vectors, strict=True):
            hits = index.search(query.text, vector if use_vector else None, Audience.studio(), 5, weights)
            ids = [h.chunk_id for h in hits]
            found_at.append(ids.index(query.answer) if query.answer in ids else None)
        kinds = sorted({q.kind for q in QUERIES})
        report[mode] = {
            "recall_at_5": round(sum(f is not None for f in found_at) / len(found_at), 3),
            "recall_at_1": round(sum(f == 0 for f in found_at) / len(found_at), 3),
            "by_kind_recall_at_5": {
                kind: round(
                    statistics.mean(
                        f is not None for f, q in zip(found_at, QUERIES, strict=True) if q.kind == kind
                    ),
                    3,
                )
                for kind in kinds
            },
        }
    return report


def corpus_chunks() -> list[Chunk]:
    chunks: list[Chunk] = []
    for number, (title, text) in enumerate(lore_corpus(1_000_000, document_chars=190_000)):
        source = DocumentSource(
            document_id=f"doc-{number}",
            world_id="bench",
            title=title,
            text=text,
            tags=KnowledgeTags(),
            content_hash="",
        )
        chunks += chunk_document(source, ChunkPolicy())
    return chunks


def cold_search(index_bytes: bytes, searches: int) -> dict[str, Any]:
    queries = [q.text for q in QUERIES] * (searches // len(QUERIES) + 1)
    with tempfile.NamedTemporaryFile(suffix=".npz") as file:
        file.write(index_bytes)
        file.flush()
        completed = subprocess.run(
            [sys.executable, "-c", COLD_SEARCH, file.name, json.dumps(queries[:searches])],
            check=True,
            capture_output=True,
            text=True,
        )
    measured = json.loads(completed.stdout.strip().splitlines()[-1])
    times = sorted(measured.pop("search_ms"))
    return {
        **{k: round(v, 1) for k, v in measured.items()},
        "search_ms_p50": round(statistics.median(times), 2),
        "search_ms_p95": round(times[int(len(times) * 0.95) - 1], 2),
        "searches": len(times),
    }


def ingest_through_the_flow(runtime: LocalRuntime) -> dict[str, Any]:
    world = "bench-1mb"
    token = local_token("bench", world, (Role.STUDIO,))
    base = f"http://127.0.0.1:{runtime.options.port}/worlds/{world}/lore/documents"
    corpus = lore_corpus(1_000_000, document_chars=190_000)
    started = time.monotonic()
    for number, (title, text) in enumerate(corpus):
        _http(base, token, "POST", {"title": title, "text": text}, {"Idempotency-Key": f"bench-{number}"})
    while True:
        documents = _http(base, token, "GET")["data"]["documents"]
        if len(documents) == len(corpus) and all(d["status"] != "ingesting" for d in documents):
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    return {
        "embedder": "static",
        "documents": len(documents),
        "chars": sum(d["chars"] for d in documents),
        "chunks": sum(d["chunks"] or 0 for d in documents),
        "statuses": sorted({d["status"] for d in documents}),
        "seconds": round(elapsed, 1),
    }


def embed_tier_throughput(chunks: list[Chunk], sample: int = 32) -> dict[str, Any]:
    embedder = _tier()
    texts = [c.searchable() for c in chunks[:sample]]
    embedder.embed(texts[:2])  # the model loads on first use
    started = time.perf_counter()
    embedder.embed(texts)
    seconds = time.perf_counter() - started
    query_times = []
    for query in QUERIES[:20]:
        begin = time.perf_counter()
        embedder.embed([query.text])
        query_times.append((time.perf_counter() - begin) * 1000)
    return {
        "chunks_per_s": round(sample / seconds, 2),
        "estimated_1mb_ingestion_s": round(len(chunks) / (sample / seconds), 0),
        "query_embedding_ms_p50": round(statistics.median(query_times), 1),
    }


def aws_calls_per_search(runtime: LocalRuntime) -> dict[str, Any]:
    from aicore import wiring

    knowledge = wiring.knowledge_base()
    counter = CallCounter()
    with counter.counting() as first:
        knowledge.relevant(
            "demo",
            Audience.npc("mira", "Emberfall townsfolk", "Emberfall"),
            "the old king",
            embed_query=False,
        )
    pointers = knowledge.pointers("demo")
    with counter.counting() as warm:
        knowledge.relevant("demo", Audience.npc("mira"), "the old king", pointers=pointers, embed_query=False)
    return {"first_search": dict(first), "warm_with_pointers": dict(warm)}


def _http(url: str, token: str, method: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--skip-ingestion", action="store_true", help="no flow run (quicker)")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"machine": machine()}

    chunks = corpus_chunks()
    static = StaticEmbedder()
    started = time.perf_counter()
    index = KnowledgeIndex.build(
        "bench", "v1", static.name, chunks, static.embed([c.searchable() for c in chunks])
    )
    build_s = time.perf_counter() - started
    data = index.to_bytes()
    report["index_1mb"] = {
        "chunks": len(chunks),
        "build_s_static": round(build_s, 2),
        "object_mb_static_256d": round(len(data) / 1e6, 2),
        "cold_process_static_256d": cold_search(data, args.searches),
    }
    # The embed tier's vectors are 384-d: same chunks, vectors of that size (random: times only).
    wide = KnowledgeIndex(
        index.world_id,
        index.version,
        "embed:sized",
        index.chunks,
        index.keyword,
        np.random.default_rng(1).standard_normal((len(chunks), 384)).astype(np.float32),
    )
    wide_data = wide.to_bytes()
    report["index_1mb"]["object_mb_384d"] = round(len(wide_data) / 1e6, 2)
    report["index_1mb"]["cold_process_384d"] = cold_search(wide_data, args.searches)

    runtime = LocalRuntime(RuntimeOptions(port=free_port(), knowledge_embedder="static", seed_lore=True))
    runtime.start()
    try:
        report["recall"] = {"static": recall(static), "embed_tier": recall(_tier())}
        report["embed_tier"] = embed_tier_throughput(chunks)
        if not args.skip_ingestion:
            report["ingestion_1mb_flow"] = ingest_through_the_flow(runtime)
        report["aws_calls_per_search"] = aws_calls_per_search(runtime)
    finally:
        runtime.stop()
    print(json.dumps(report, indent=2))
    write_report("knowledge", report)


def _tier() -> EndpointEmbedder:
    (endpoint,) = local_embedding_endpoint_names(ENV)
    return EndpointEmbedder(
        TierTarget(endpoint, endpoint),
        "sentence-transformers/all-MiniLM-L6-v2",
        384,
        endpoint=SageMakerEndpoint(),
    )


if __name__ == "__main__":
    main()
