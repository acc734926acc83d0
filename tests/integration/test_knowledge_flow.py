"""The knowledge base on the local runtime: documents ingested through the real Step Functions flow
(moto runs our ASL; its tasks run the real steps), searched over HTTP within knowledge filters, and
the embed tier's contract on the local model server."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import numpy as np
import pytest

from aicore.auth import Role
from aicore.aws.sagemaker_runtime import EndpointEmbedder, SageMakerEndpoint
from aicore.errors import ModelUnavailable
from aicore.llm.endpoint import TierTarget
from aicore.local.model_server import local_embedding_endpoint_names
from aicore.local.runtime import ENV, LocalRuntime, local_token
from tests.knowledge_data import lore_corpus

pytestmark = pytest.mark.model
INGEST_DEADLINE_S = 900  # a busy 2-core machine; measured in bench/results/knowledge.json


def _call(
    runtime: LocalRuntime, method: str, path: str, token: str, body: Any = None, key: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{runtime.options.port}{path}", data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _documents_when_settled(
    runtime: LocalRuntime, world: str, token: str, expected: int, deadline_s: float
) -> list[dict[str, Any]]:
    """The world's documents once `expected` of them are no longer ingesting (or fail at the deadline)."""
    deadline = time.monotonic() + deadline_s
    documents: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        status, body = _call(runtime, "GET", f"/worlds/{world}/lore/documents", token)
        assert status == 200, body
        documents = body["data"]["documents"]
        if len(documents) >= expected and all(d["status"] != "ingesting" for d in documents):
            return documents
        time.sleep(0.5)
    raise AssertionError(
        f"documents still ingesting after {deadline_s} s: {[d['status'] for d in documents]}"
    )


def test_a_1mb_corpus_ingests_through_the_real_flow(runtime: LocalRuntime) -> None:
    # Given a 1 MB corpus in documents of about 190 KB, and one secret for a faction
    world = f"kb-{uuid.uuid4().hex[:8]}"
    studio = local_token("studio-1", world, (Role.STUDIO,))
    corpus = lore_corpus(1_000_000, document_chars=190_000)
    secret = {
        "title": "The smiths' oath",
        "text": "Every smith swears on the anvil of Saint Ignis to never sell steel to the bandits.",
        "tags": {"factions": ["smiths"]},
    }
    # When the studio uploads them all
    started = time.monotonic()
    for number, (title, text) in enumerate(corpus):
        status, body = _call(
            runtime,
            "POST",
            f"/worlds/{world}/lore/documents",
            studio,
            {"title": title, "text": text},
            key=f"chronicle-{number}",
        )
        assert status == 202, body
    status, body = _call(runtime, "POST", f"/worlds/{world}/lore/documents", studio, secret, key="oath")
    assert status == 202, body
    # Then every document becomes ready, through the flow, in one index
    documents = _documents_when_settled(runtime, world, studio, len(corpus) + 1, INGEST_DEADLINE_S)
    elapsed = time.monotonic() - started
    assert [d["status"] for d in documents] == ["ready"] * (len(corpus) + 1), documents
    assert sum(d["chars"] for d in documents) >= 1_000_000
    print(f"1 MB corpus ingested in {elapsed:.1f} s ({sum(d['chunks'] for d in documents)} chunks)")
    # And search finds by keywords and meaning, the secret only for the studio, never for a player
    status, body = _call(runtime, "GET", f"/worlds/{world}/lore/search?q=Who+rows+the+ferry&limit=3", studio)
    assert status == 200, body
    assert any("Tamsin" in r["text"] for r in body["data"]["results"])
    player = local_token("p-1", world)
    oath_query = "/lore/search?q=oath+anvil+bandits+steel&limit=20"
    status, body = _call(runtime, "GET", f"/worlds/{world}{oath_query}", studio)
    assert any(r["text"] == secret["text"] for r in body["data"]["results"])
    status, body = _call(runtime, "GET", f"/worlds/{world}{oath_query}", player)
    assert status == 200
    assert all(r["text"] != secret["text"] for r in body["data"]["results"])


def test_the_demo_worlds_lore_is_ingested_and_each_npc_knows_only_its_share(runtime: LocalRuntime) -> None:
    studio = local_token("studio-1", "demo", (Role.STUDIO,))
    documents = _documents_when_settled(runtime, "demo", studio, 4, INGEST_DEADLINE_S)
    assert {d["status"] for d in documents} == {"ready"}
    query = "/worlds/demo/lore/search?q=the+old+king+letters+council+ledger+silver&limit=10"

    def texts(suffix: str, token: str = studio) -> str:
        status, body = _call(runtime, "GET", query + suffix, token)
        assert status == 200, body
        return " ".join(r["text"] for r in body["data"]["results"])

    assert "crowned heron" in texts("&npc=sable")
    assert "second one records" not in texts("&npc=sable")
    assert "second one records" in texts("&npc=mira")
    assert "crowned heron" not in texts("&npc=mira")
    public = texts("", local_token("p-1", "demo"))
    assert "crowned heron" not in public
    assert "second one records" not in public


def test_a_document_with_nothing_to_search_fails_with_its_reason(runtime: LocalRuntime) -> None:
    world = f"kb-{uuid.uuid4().hex[:8]}"
    studio = local_token("studio-1", world, (Role.STUDIO,))
    status, body = _call(
        runtime,
        "POST",
        f"/worlds/{world}/lore/documents",
        studio,
        {"title": "Empty", "text": "# Only\n\n## Headings"},
    )
    assert status == 202, body
    (document,) = _documents_when_settled(runtime, world, studio, 1, 120)
    assert document["status"] == "failed"
    assert document["reason"] == "The document has no text to search: only headings or blank lines."


def test_the_embed_tier_answers_through_invoke_endpoint(runtime: LocalRuntime) -> None:
    (endpoint,) = local_embedding_endpoint_names(ENV)
    embedder = EndpointEmbedder(
        TierTarget(endpoint, endpoint),
        "sentence-transformers/all-MiniLM-L6-v2",
        384,
        endpoint=SageMakerEndpoint(),
        batch_size=4,
    )
    texts = [
        "Borin forges swords.",
        "",
        "The smith hammers a blade.",
        "Mira pours ale at the inn.",
        "A dwarf makes weapons.",
        "Ferry across the lake.",
    ]
    vectors = embedder.embed(texts)
    assert vectors.shape == (6, 384)
    assert not vectors[1].any()
    assert np.allclose(np.linalg.norm(vectors[[0, 2, 3, 4, 5]], axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[4] > vectors[0] @ vectors[5]  # meaning, not words
    too_many = EndpointEmbedder(
        TierTarget(endpoint, endpoint), "m", 384, endpoint=SageMakerEndpoint(), batch_size=64
    )
    with pytest.raises(ModelUnavailable, match="batch size 40"):
        too_many.embed(["word"] * 40)
