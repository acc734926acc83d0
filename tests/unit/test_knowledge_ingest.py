"""The ingestion flow's steps over fakes: redelivery, concurrent flows, a changed embedder, failures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from aicore.errors import Conflict
from aicore.knowledge.chunking import ChunkPolicy
from aicore.knowledge.filters import Audience
from aicore.knowledge.fusion import FusionWeights
from aicore.knowledge.index import KnowledgeIndex
from aicore.knowledge.ingest import (
    INDEX_PRUNE_GRACE,
    ChunkStep,
    EmbedStep,
    FailStep,
    FlowError,
    IndexStep,
    IngestDeps,
    PublishStep,
    build_index,
    chunk,
    embed,
    fail,
    failure_reason,
    publish,
)
from aicore.knowledge.models import DocumentSource, DocumentStatus, KnowledgeTags, LoreDocument
from tests.knowledge_fakes import FakeKnowledgeObjects, FakeKnowledgeStore, HashEmbedder

WORLD = "demo"


@pytest.fixture
def deps() -> IngestDeps:
    embedder = HashEmbedder()
    store = FakeKnowledgeStore()  # one table holds records and pointers, as in DynamoDB
    return IngestDeps(
        documents=store,
        pointers=store,
        objects=FakeKnowledgeObjects(),
        embedder=lambda: embedder,
        chunking=ChunkPolicy(max_chars=200, overlap_chars=40),
    )


def _upload(deps: IngestDeps, document_id: str, text: str) -> None:
    deps.documents.create(
        LoreDocument(
            document_id=document_id,
            world_id=WORLD,
            title=document_id,
            status=DocumentStatus.INGESTING,
            chars=len(text),
            content_hash="h",
            created_at="t",
            updated_at="t",
        )
    )
    deps.objects.put_source(
        DocumentSource(
            document_id=document_id,
            world_id=WORLD,
            title=document_id,
            text=text,
            tags=KnowledgeTags(),
            content_hash="h",
        )
    )


def _ingest(deps: IngestDeps, document_id: str, *, twice: bool = False) -> None:
    """The flow's happy path; `twice`: every step delivered twice (Step Functions may redeliver)."""
    runs = 2 if twice else 1
    for _ in range(runs):
        chunk(deps, ChunkStep(step="chunk", world_id=WORLD, document_id=document_id))
    for _ in range(runs):
        embed(deps, EmbedStep(step="embed", world_id=WORLD, document_id=document_id))
    attempt = 0
    while True:
        step = IndexStep(step="index", world_id=WORLD, document_id=document_id, attempt=attempt)
        built = build_index(deps, step)
        for _ in range(runs - 1):
            assert build_index(deps, step) == built  # the same version, under the same key
        for _ in range(runs):
            published = publish(
                deps,
                PublishStep(
                    step="publish", world_id=WORLD, document_id=document_id, index=built, attempt=attempt
                ),
            )
        if published.published:
            return
        attempt = published.attempt


def _current(deps: IngestDeps) -> KnowledgeIndex:
    pointer = deps.pointers.current([WORLD])[WORLD]
    return KnowledgeIndex.from_bytes(deps.objects.index(pointer.key))


def test_a_document_is_chunked_embedded_indexed_and_published(deps: IngestDeps) -> None:
    _upload(deps, "doc-a", "# Forge\n\nBorin forges swords.\n\n# Inn\n\nMira keeps the inn.")
    _ingest(deps, "doc-a")
    document = deps.documents.get(WORLD, "doc-a")
    assert document is not None
    assert document.status is DocumentStatus.READY
    assert document.chunks == 2
    index = _current(deps)
    assert [c.heading for c in index.chunks] == ["Forge", "Inn"]
    assert document.index_version == index.version


def test_every_step_delivered_twice_changes_nothing(deps: IngestDeps) -> None:
    _upload(deps, "doc-a", "Borin forges swords.\n\nMira keeps the inn.")
    _ingest(deps, "doc-a", twice=True)
    once = FakeKnowledgeStore(), FakeKnowledgeObjects()
    other = IngestDeps(once[0], once[0], once[1], deps.embedder, deps.chunking)
    _upload(other, "doc-a", "Borin forges swords.\n\nMira keeps the inn.")
    _ingest(other, "doc-a")
    assert _current(deps).version == _current(other).version
    assert deps.pointers.current([WORLD])[WORLD].revision == 1


def test_a_publish_delivered_again_after_another_flow_published_says_published(deps: IngestDeps) -> None:
    # Given doc-a published, then doc-b published on top of it by another flow
    _upload(deps, "doc-a", "Borin forges swords.")
    chunk(deps, ChunkStep(step="chunk", world_id=WORLD, document_id="doc-a"))
    embed(deps, EmbedStep(step="embed", world_id=WORLD, document_id="doc-a"))
    built_a = build_index(deps, IndexStep(step="index", world_id=WORLD, document_id="doc-a"))
    publish_a = PublishStep(step="publish", world_id=WORLD, document_id="doc-a", index=built_a)
    first = publish(deps, publish_a)
    _upload(deps, "doc-b", "Mira keeps the inn.")
    _ingest(deps, "doc-b")

    # When doc-a's publish is delivered again (its Lambda timed out after the write)
    again = publish(deps, publish_a)

    # Then it says published, as it did: the flow ends Ready and builds no index again
    assert again == first
    assert first.published
    assert deps.pointers.current([WORLD])[WORLD].revision == 2
    document = deps.documents.get(WORLD, "doc-a")
    assert document is not None
    assert (document.status, document.index_version) == (DocumentStatus.READY, built_a.version)


def test_a_failure_delivered_twice_says_the_same(deps: IngestDeps) -> None:
    _upload(deps, "doc-a", "# Only\n\n## Headings")
    cause = json.dumps({"errorType": "InvalidRequest", "errorMessage": "The document has no text to search."})
    step = FailStep(step="fail", world_id=WORLD, document_id="doc-a", error=FlowError(Error="x", Cause=cause))
    assert fail(deps, step) == fail(deps, step)
    document = deps.documents.get(WORLD, "doc-a")
    assert document is not None
    assert (document.status, document.reason) == (
        DocumentStatus.FAILED,
        "The document has no text to search.",
    )


def test_two_flows_racing_on_one_world_keep_both_documents(deps: IngestDeps) -> None:
    # Given two documents whose flows both build on the same (empty) index
    _upload(deps, "doc-a", "Borin forges swords.")
    _upload(deps, "doc-b", "Mira keeps the inn.")
    for document in ("doc-a", "doc-b"):
        chunk(deps, ChunkStep(step="chunk", world_id=WORLD, document_id=document))
        embed(deps, EmbedStep(step="embed", world_id=WORLD, document_id=document))
    built_a = build_index(deps, IndexStep(step="index", world_id=WORLD, document_id="doc-a"))
    built_b = build_index(deps, IndexStep(step="index", world_id=WORLD, document_id="doc-b"))
    # When a publishes first, b loses the race
    assert publish(
        deps, PublishStep(step="publish", world_id=WORLD, document_id="doc-a", index=built_a)
    ).published
    lost = publish(deps, PublishStep(step="publish", world_id=WORLD, document_id="doc-b", index=built_b))
    assert not lost.published
    assert lost.attempt == 1
    # Then b builds again on a's index and both are searchable
    rebuilt = build_index(deps, IndexStep(step="index", world_id=WORLD, document_id="doc-b", attempt=1))
    assert publish(
        deps, PublishStep(step="publish", world_id=WORLD, document_id="doc-b", index=rebuilt, attempt=1)
    ).published
    assert _current(deps).document_ids == ["doc-a", "doc-b"]
    assert deps.pointers.current([WORLD])[WORLD].revision == 2
    assert all(d.status is DocumentStatus.READY for d in deps.documents.list(WORLD))


def test_a_flow_that_keeps_losing_gives_up_with_a_reason(deps: IngestDeps) -> None:
    _upload(deps, "doc-a", "Borin forges swords.")
    with pytest.raises(Conflict, match="changed 10 times"):
        build_index(deps, IndexStep(step="index", world_id=WORLD, document_id="doc-a", attempt=10))


def test_a_new_embedder_re_embeds_the_whole_index(deps: IngestDeps) -> None:
    # Given an index built with one embedder
    _upload(deps, "doc-a", "Borin forges swords.")
    _ingest(deps, "doc-a")
    assert _current(deps).embedder == "test:hash"
    # When the settings name another and a document arrives
    newer = HashEmbedder("test:newer")
    deps.embedder = lambda: newer
    _upload(deps, "doc-b", "Mira keeps the inn.")
    _ingest(deps, "doc-b")
    # Then the new index holds only the new embedder's vectors, for every chunk
    index = _current(deps)
    assert index.embedder == "test:newer"
    assert deps.pointers.current([WORLD])[WORLD].embedder == "test:newer"
    assert index.document_ids == ["doc-a", "doc-b"]
    query = newer.embed(["swords"])[0]
    (hit,) = index.search("swords", query, Audience.studio(), 1, FusionWeights())
    assert hit.document_id == "doc-a"
    assert hit.scores.vector == pytest.approx(
        float(newer.embed([index.chunks[0].searchable()])[0] @ query), abs=1e-5
    )


def _moving_clock(deps: IngestDeps) -> list[datetime]:
    """The flow's clock and the objects' (S3's LastModified) as one; move it by setting [0]."""
    moment = [datetime(2026, 12, 1, tzinfo=UTC)]
    deps.clock = lambda: moment[0]
    assert isinstance(deps.objects, FakeKnowledgeObjects)
    deps.objects.clock = deps.clock
    return moment


def test_old_index_versions_are_pruned_but_the_previous_one_is_kept(deps: IngestDeps) -> None:
    moment = _moving_clock(deps)
    for n in range(4):
        _upload(deps, f"doc-{n}", f"Fact number {n}.")
        _ingest(deps, f"doc-{n}")
        moment[0] += INDEX_PRUNE_GRACE + timedelta(seconds=1)
    assert isinstance(deps.objects, FakeKnowledgeObjects)
    assert len(deps.objects.indexes) == 2


@dataclass
class _PruneLater(FakeKnowledgeObjects):
    """Objects whose prunes wait to be run (a publish step that paused between write and prune)."""

    prunes: list[tuple[str, Sequence[str], datetime]] = field(default_factory=list)

    def prune_indexes(self, world_id: str, keep: Sequence[str], written_before: datetime) -> int:
        self.prunes.append((world_id, keep, written_before))
        return 0


def test_a_prune_spares_an_index_another_flow_published_meanwhile(deps: IngestDeps) -> None:
    # Given two documents in, long ago, and two flows that add one more each
    objects = deps.objects = _PruneLater()
    moment = _moving_clock(deps)
    for n in range(2):
        _upload(deps, f"doc-{n}", f"Fact number {n}.")
        _ingest(deps, f"doc-{n}")
    moment[0] += INDEX_PRUNE_GRACE * 2
    # When the slow flow publishes, the fast one builds on it and publishes, and only then does the
    # slow flow's publish step prune
    _upload(deps, "doc-slow", "The slow fact.")
    _ingest(deps, "doc-slow")
    slow_prune = objects.prunes[-1]
    _upload(deps, "doc-fast", "The fast fact.")
    _ingest(deps, "doc-fast")
    FakeKnowledgeObjects.prune_indexes(objects, *slow_prune)
    # Then the index now current is still there, with every document
    assert _current(deps).document_ids == ["doc-0", "doc-1", "doc-fast", "doc-slow"]


def test_a_document_of_headings_only_fails_with_a_reason(deps: IngestDeps) -> None:
    _upload(deps, "doc-a", "# Only\n\n## Headings")
    with pytest.raises(Exception, match="no text to search") as raised:
        chunk(deps, ChunkStep(step="chunk", world_id=WORLD, document_id="doc-a"))
    cause = json.dumps({"errorType": type(raised.value).__name__, "errorMessage": str(raised.value)})
    fail(
        deps,
        FailStep(
            step="fail",
            world_id=WORLD,
            document_id="doc-a",
            error=FlowError(Error="InvalidRequest", Cause=cause),
        ),
    )
    document = deps.documents.get(WORLD, "doc-a")
    assert document is not None
    assert document.status is DocumentStatus.FAILED
    assert document.reason == "The document has no text to search: only headings or blank lines."


def test_an_unexpected_failure_is_reported_by_its_type_only() -> None:
    cause = json.dumps({"errorType": "KeyError", "errorMessage": "'secret internal detail'"})
    reason = failure_reason(FlowError(Error="KeyError", Cause=cause))
    assert "KeyError" in reason
    assert "secret" not in reason
    assert "Lambda.Unknown" in failure_reason(FlowError(Error="Lambda.Unknown", Cause="not json"))


def test_a_late_failure_never_unreadies_a_published_document(deps: IngestDeps) -> None:
    _upload(deps, "doc-a", "Borin forges swords.")
    _ingest(deps, "doc-a")
    fail(deps, FailStep(step="fail", world_id=WORLD, document_id="doc-a"))
    document = deps.documents.get(WORLD, "doc-a")
    assert document is not None
    assert document.status is DocumentStatus.READY
