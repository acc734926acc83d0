"""The lore HTTP API through its real handler, over fakes: who may do what, idempotent uploads,
bounded input, the envelope. The flow itself is run by hand here (its steps are the real ones)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aicore.auth import Caller, Role
from aicore.knowledge.ingest import (
    ChunkStep,
    EmbedStep,
    IndexStep,
    IngestDeps,
    PublishStep,
    build_index,
    chunk,
    embed,
    publish,
)
from aicore.knowledge.models import GLOBAL_WORLD
from aicore.world.models import Npc
from tests.edge_calls import ADMIN, PLAYER, STUDIO, HttpEdge, Reply

BORIN = Npc(
    npc_id="borin",
    world_id="demo",
    name="Borin",
    greeting="Hmph.",
    faction="Emberfall townsfolk",
    region="Emberfall",
    persona="A smith.",
    speech_style="Blunt.",
)
SABLE = Npc(
    npc_id="sable",
    world_id="demo",
    name="Sable",
    greeting="...",
    persona="A wanderer.",
    speech_style="Cryptic.",
)
PUBLIC = {
    "title": "Emberfall",
    "text": "# Emberfall\n\nEmberfall is a mountain town around a volcanic forge.",
}
SECRET = {
    "title": "Ledger",
    "text": "The council skims silver from the forge tithe.",
    "tags": {"factions": ["Emberfall Townsfolk"]},
}
LETTERS = {
    "title": "Letters",
    "text": "The old king hides in the Sunken Library.",
    "tags": {"npcs": ["sable"]},
}


@pytest.fixture
def edge() -> HttpEdge:
    edge = HttpEdge()
    edge.world.put_npc(BORIN)
    edge.world.put_npc(SABLE)
    return edge


def _post(
    edge: HttpEdge,
    document: dict[str, Any],
    *,
    caller: Caller = STUDIO,
    key: str | None = None,
    world: str = "demo",
) -> Reply:
    headers = {"idempotency-key": key} if key else {}
    return edge.call(
        "POST",
        f"/worlds/{world}/lore/documents",
        body=json.dumps(document).encode(),
        headers=headers,
        caller=caller,
    )


def _run_flows(edge: HttpEdge) -> None:
    """Every flow the uploads started, step by step, as Step Functions would run them."""
    deps = IngestDeps(edge.knowledge, edge.knowledge, edge.knowledge_objects, lambda: edge.embedder)
    for _, _, payload in edge.flows.started:
        world, document = payload["world_id"], payload["document_id"]
        chunk(deps, ChunkStep(step="chunk", world_id=world, document_id=document))
        embed(deps, EmbedStep(step="embed", world_id=world, document_id=document))
        built = build_index(deps, IndexStep(step="index", world_id=world, document_id=document))
        assert publish(
            deps, PublishStep(step="publish", world_id=world, document_id=document, index=built)
        ).published
    edge.flows.started.clear()


def _search(edge: HttpEdge, query: str, *, caller: Caller = STUDIO, world: str = "demo") -> Reply:
    return edge.call("GET", f"/worlds/{world}/lore/search?{query}", caller=caller)


def _texts(reply: Reply) -> list[str]:
    assert reply.status == 200, reply.body
    return [r["text"] for r in reply.body["data"]["results"]]


def test_an_upload_is_accepted_then_ingested_then_listed_ready(edge: HttpEdge) -> None:
    reply = _post(edge, PUBLIC)
    assert reply.status == 202
    assert reply.body["ok"]
    assert reply.body["operation"] == "lore.documents.create"
    document_id = reply.body["data"]["document_id"]
    assert reply.body["data"]["status"] == "ingesting"
    assert reply.body["data"]["created"]
    listed = edge.call("GET", "/worlds/demo/lore/documents", caller=STUDIO).body["data"]["documents"]
    assert [(d["document_id"], d["status"]) for d in listed] == [(document_id, "ingesting")]
    _run_flows(edge)
    listed = edge.call("GET", "/worlds/demo/lore/documents", caller=STUDIO).body["data"]["documents"]
    assert [(d["document_id"], d["status"], d["chunks"]) for d in listed] == [(document_id, "ready", 1)]


def test_a_retried_upload_with_the_same_key_is_one_document(edge: HttpEdge) -> None:
    first = _post(edge, PUBLIC, key="upload-1")
    again = _post(edge, PUBLIC, key="upload-1")
    assert first.body["data"]["document_id"] == again.body["data"]["document_id"]
    assert again.body["data"]["created"] is False
    assert len(edge.knowledge.documents) == 1
    assert len(edge.flows.started) == 1
    other = _post(edge, SECRET, key="upload-1")
    assert (other.status, other.body["error"]["code"]) == (409, "conflict")
    _run_flows(edge)
    done = _post(edge, PUBLIC, key="upload-1")
    assert done.body["data"]["status"] == "ready"
    assert done.body["data"]["execution_arn"] is None


def test_each_npc_retrieves_only_what_it_may_know(edge: HttpEdge) -> None:
    for document in (PUBLIC, SECRET, LETTERS):
        _post(edge, document)
    _run_flows(edge)
    query = "q=forge+silver+king+library+town&limit=10"
    everything = _texts(_search(edge, query))
    borin = _texts(_search(edge, f"{query}&npc=borin"))
    sable = _texts(_search(edge, f"{query}&npc=sable"))
    public = _texts(_search(edge, query, caller=PLAYER))
    assert len(everything) == 3
    assert SECRET["text"] in borin
    assert LETTERS["text"] not in borin
    assert LETTERS["text"] in sable
    assert SECRET["text"] not in sable
    assert public == [t for t in everything if t not in (SECRET["text"], LETTERS["text"])]
    result = _search(edge, f"{query}&npc=borin").body["data"]["results"][0]
    assert set(result) >= {"chunk_id", "document_id", "text", "scores"}
    assert set(result["scores"]) == {"keyword", "vector", "total"}


def test_who_may_do_what(edge: HttpEdge) -> None:
    assert _post(edge, PUBLIC, caller=PLAYER).status == 403
    assert edge.call("GET", "/worlds/demo/lore/documents", caller=PLAYER).status == 403
    assert _search(edge, "q=forge&npc=borin", caller=PLAYER).status == 403  # players never search as an NPC
    elsewhere = Caller(subject="tools", world_id="other", roles=(Role.STUDIO,))
    assert _post(edge, PUBLIC, caller=elsewhere).status == 403
    assert _search(edge, "q=forge", caller=elsewhere).status == 403
    assert _post(edge, PUBLIC, world=GLOBAL_WORLD).status == 403  # the global corpus: admins only
    assert _post(edge, PUBLIC, caller=ADMIN, world=GLOBAL_WORLD).status == 202
    assert edge.call("GET", f"/worlds/{GLOBAL_WORLD}/lore/documents", caller=STUDIO).status == 200


def test_global_lore_is_known_in_every_world(edge: HttpEdge) -> None:
    _post(
        edge,
        {"title": "Moons", "text": "The world has two moons, Ash and Ember."},
        caller=ADMIN,
        world=GLOBAL_WORLD,
    )
    _post(edge, PUBLIC)
    _run_flows(edge)
    results = _search(edge, "q=how+many+moons&npc=borin").body["data"]["results"]
    assert results[0]["text"].startswith("The world has two moons")


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("q=", 400, "invalid_request"),
        ("limit=3", 400, "invalid_request"),
        ("q=forge&limit=0", 400, "invalid_request"),
        ("q=forge&limit=500", 400, "invalid_request"),
        ("q=forge&limit=-1", 400, "invalid_request"),
        ("q=" + "a" * 600, 400, "invalid_request"),
        ("q=forge&npc=nobody", 404, "not_found"),
        ("q=forge&npc=%3Cimg%3E", 404, "not_found"),
    ],
)
def test_bad_searches_are_refused_in_the_envelope(edge: HttpEdge, query: str, status: int, code: str) -> None:
    reply = _search(edge, query)
    assert (reply.status, reply.body["error"]["code"]) == (status, code)
    assert "aaaaaaaaaa" not in json.dumps(reply.body["error"])


@pytest.mark.parametrize(
    "body",
    [
        {"title": "", "text": "x"},
        {"title": "t", "text": "   "},
        {"title": "t", "text": "x", "tags": {"guilds": ["x"]}},
        {"title": "t", "text": "x", "tags": {"npcs": ["not an id!"]}},
        {"title": "t" * 201, "text": "x"},
        {"title": "t", "text": "x", "extra": 1},
    ],
)
def test_bad_documents_are_refused(edge: HttpEdge, body: dict[str, Any]) -> None:
    reply = _post(edge, body)
    assert (reply.status, reply.body["error"]["code"]) == (400, "invalid_request")
    assert not edge.flows.started


def test_a_document_over_the_bound_is_too_large(edge: HttpEdge) -> None:
    reply = _post(edge, {"title": "t", "text": "word " * 50_000})
    assert (reply.status, reply.body["error"]["code"]) == (413, "payload_too_large")
