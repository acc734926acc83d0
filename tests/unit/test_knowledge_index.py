"""The index object: built, searched, written and read back the same; the knowledge base's cache."""

from __future__ import annotations

import numpy as np
import pytest

from aicore.knowledge.base import KnowledgeBase
from aicore.knowledge.filters import Audience
from aicore.knowledge.fusion import FusionWeights
from aicore.knowledge.index import IndexFormatError, KnowledgeIndex
from aicore.knowledge.models import GLOBAL_WORLD, Chunk, IndexPointer, KnowledgeTags
from aicore.knowledge.store import index_key
from tests.knowledge_fakes import FakeKnowledgeObjects, FakeKnowledgeStore, HashEmbedder

TEXTS = [
    "Borin forges swords for the guard in the great forge.",
    "Mira keeps the Gilded Goose, the only inn of Emberfall.",
    "The Sunken Library lies beneath the lake, open at low tide.",
    "The council keeps a second ledger of skimmed silver.",
]


def _chunks(world: str = "demo", prefix: str = "d") -> list[Chunk]:
    return [
        Chunk(chunk_id=f"{prefix}:{n}", document_id=prefix, title="Lore", text=text)
        for n, text in enumerate(TEXTS)
    ]


def _index(world: str = "demo", version: str = "v1", prefix: str = "d") -> KnowledgeIndex:
    chunks = _chunks(world, prefix)
    return KnowledgeIndex.build(world, version, "test:hash", chunks, HashEmbedder().embed(TEXTS))


def test_search_finds_by_keyword_and_by_vector() -> None:
    index = _index()
    vector = HashEmbedder().embed(["where is the inn"])[0]
    (hit,) = index.search("where is the inn", vector, Audience.studio(), 1, FusionWeights())
    assert hit.chunk_id == "d:1"
    assert hit.scores.keyword > 0
    assert hit.scores.vector is not None
    assert hit.scores.total > 0
    (keyword_only,) = index.search("ledger", None, Audience.studio(), 1, FusionWeights())
    assert keyword_only.chunk_id == "d:3"
    assert keyword_only.scores.vector is None


def test_an_index_reads_back_as_it_was_written() -> None:
    index = _index()
    again = KnowledgeIndex.from_bytes(index.to_bytes())
    vector = HashEmbedder().embed(["silver ledger"])[0]
    assert (again.world_id, again.version, again.embedder) == ("demo", "v1", "test:hash")
    assert again.chunks == index.chunks
    assert np.array_equal(again.vectors, index.vectors)
    search = (vector, Audience.studio(), 4, FusionWeights())
    assert again.search("silver ledger", *search) == index.search("silver ledger", *search)


def test_something_else_is_not_read_as_an_index() -> None:
    with pytest.raises(IndexFormatError):
        KnowledgeIndex.from_bytes(b"not an index")


def _published(store: FakeKnowledgeStore, objects: FakeKnowledgeObjects, index: KnowledgeIndex) -> None:
    key = index_key(index.world_id, index.version)
    objects.put_index(key, index.to_bytes())
    store.pointers[index.world_id] = IndexPointer(
        world_id=index.world_id,
        version=index.version,
        key=key,
        embedder=index.embedder,
        dimensions=index.dimensions,
        chunks=len(index.chunks),
        documents=1,
        revision=1,
        published_at="2026-11-30T00:00:00.000+00:00",
    )


def test_the_knowledge_base_loads_an_index_once_per_version_and_makes_no_call_when_told_the_pointers() -> (
    None
):
    # Given a world's index and the global one, both published
    store, objects, embedder = FakeKnowledgeStore(), FakeKnowledgeObjects(), HashEmbedder()
    _published(store, objects, _index("demo", "v1"))
    _published(store, objects, _index(GLOBAL_WORLD, "g1", prefix="g"))
    knowledge = KnowledgeBase(store, objects, {embedder.name: embedder}.get)
    pointers = knowledge.pointers("demo")
    # When the turn searches three times with the pointers it read
    for _ in range(3):
        hits = knowledge.relevant("demo", Audience.studio(), "the inn", limit=4, pointers=pointers)
    # Then each index was loaded once, no pointer was read again, and both worlds answered
    assert objects.index_reads == 2
    assert store.pointer_reads == 1
    assert {h.world_id for h in hits} == {"demo", GLOBAL_WORLD}
    # And a new version is loaded once it is current
    _published(store, objects, _index("demo", "v2"))
    knowledge.relevant("demo", Audience.studio(), "the inn")
    assert objects.index_reads == 3


def test_a_query_vector_is_made_once_per_embedder_or_not_at_all() -> None:
    store, objects, embedder = FakeKnowledgeStore(), FakeKnowledgeObjects(), HashEmbedder()
    _published(store, objects, _index("demo", "v1"))
    _published(store, objects, _index(GLOBAL_WORLD, "g1", prefix="g"))
    knowledge = KnowledgeBase(store, objects, {embedder.name: embedder}.get)
    knowledge.relevant("demo", Audience.studio(), "the inn")
    assert embedder.calls == 1  # two indexes, one embedder: one call
    given = knowledge.relevant(
        "demo", Audience.studio(), "the inn", vectors={"test:hash": embedder.embed(["inn"])[0]}
    )
    assert embedder.calls == 2
    assert all(h.scores.vector is not None for h in given)
    keywords = knowledge.relevant("demo", Audience.studio(), "the inn", embed_query=False)
    assert embedder.calls == 2
    assert all(h.scores.vector is None for h in keywords)


def test_another_worlds_npc_never_reads_this_worlds_lore() -> None:
    store, objects = FakeKnowledgeStore(), FakeKnowledgeObjects()
    _published(store, objects, _index("other", "o1", prefix="o"))
    knowledge = KnowledgeBase(store, objects, lambda _: None)
    assert knowledge.relevant("demo", Audience.studio(), "inn", pointers=list(store.pointers.values())) == []


def test_tags_are_kept_in_the_index() -> None:
    chunk = Chunk(
        chunk_id="s:0",
        document_id="s",
        title="Letters",
        text="The king hides.",
        tags=KnowledgeTags(npcs=("sable",)),
    )
    index = KnowledgeIndex.build("demo", "v", "test:hash", [chunk], HashEmbedder().embed([chunk.text]))
    again = KnowledgeIndex.from_bytes(index.to_bytes())
    assert again.search("king", None, Audience.npc("mira"), 5, FusionWeights()) == []
    assert len(again.search("king", None, Audience.npc("sable"), 5, FusionWeights())) == 1
