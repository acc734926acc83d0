"""The ingestion flow's steps (`state_machines/knowledge-ingest.asl.json`): chunk, embed, index,
publish, and fail. Each task invokes `knowledge-steps` with `{"step": ..., ...}`.

Every step tolerates redelivery: chunk and embed rewrite the same objects; index names its
version after its content, so it writes the same object again; publish is a conditional write
(a redelivered publish finds its own version current, or named on the document's record as the
first index that held it when another flow has published on top since, and says so); fail never
touches a document that is ready. Concurrent flows of one world never lose a document: publish
succeeds only on the revision the index was built from, and a flow that loses the race builds
again on top of the winner's index.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import BaseModel, Field, TypeAdapter

from aicore.clock import Clock, now, stamp
from aicore.errors import Conflict, InvalidRequest, NotFound
from aicore.inputs import Identifier
from aicore.knowledge.chunking import ChunkPolicy, chunk_document
from aicore.knowledge.index import KnowledgeIndex, version_name
from aicore.knowledge.models import Chunk, DocumentStatus, IndexPointer
from aicore.knowledge.store import DocumentStore, IndexPointers, KnowledgeObjects, index_key
from aicore.observability import logger

if TYPE_CHECKING:
    from aicore.llm.embedding import Embedder, Vectors

MAX_PUBLISH_ATTEMPTS = 10  # each lost race means another flow published: progress, not a livelock
# Index objects younger than this are never pruned: another flow's, built and not yet published (an
# Index step runs at most 5 minutes), or published by a flow that ran while this one pruned.
INDEX_PRUNE_GRACE = timedelta(minutes=15)
MAX_REASON_CHARS = 500
# Failures whose message is written for a person (domain errors); others are reported by type only.
EXPLAINED_ERRORS = frozenset(
    {"InvalidRequest", "NotFound", "Conflict", "PayloadTooLarge", "ModelUnavailable", "IndexContention"}
)


class IndexContention(Conflict):
    """A world's index changed under this flow too many times in a row."""


class _Step(BaseModel):
    world_id: Identifier
    document_id: Identifier


class ChunkStep(_Step):
    step: Literal["chunk"]


class EmbedStep(_Step):
    step: Literal["embed"]


class IndexStep(_Step):
    step: Literal["index"]
    attempt: int = Field(0, ge=0)


class BuiltIndex(BaseModel):
    version: str
    key: str
    embedder: str
    dimensions: int
    chunks: int
    documents: int
    revision: int
    previous_key: str | None = None


class PublishStep(_Step):
    step: Literal["publish"]
    index: BuiltIndex
    attempt: int = Field(0, ge=0)


class FlowError(BaseModel):
    """What Step Functions' Catch puts in `ResultPath`."""

    Error: str = ""
    Cause: str = ""


class FailStep(_Step):
    step: Literal["fail"]
    error: FlowError = FlowError()


IngestStep = Annotated[
    ChunkStep | EmbedStep | IndexStep | PublishStep | FailStep, Field(discriminator="step")
]
ingest_step: TypeAdapter[IngestStep] = TypeAdapter(IngestStep)


class Chunked(BaseModel):
    chunks: int


class Embedded(BaseModel):
    embedder: str
    dimensions: int
    chunks: int


class Published(BaseModel):
    published: bool
    attempt: int
    version: str


class Failed(BaseModel):
    reason: str


@dataclass
class IngestDeps:
    documents: DocumentStore
    pointers: IndexPointers
    objects: KnowledgeObjects
    embedder: Callable[[], Embedder]  # the one new indexes are built with (settings choose)
    chunking: ChunkPolicy = field(default_factory=ChunkPolicy)
    clock: Clock = now


def run_ingest_step(deps: IngestDeps, step: IngestStep) -> BaseModel:
    match step:
        case ChunkStep():
            return chunk(deps, step)
        case EmbedStep():
            return embed(deps, step)
        case IndexStep():
            return build_index(deps, step)
        case PublishStep():
            return publish(deps, step)
        case FailStep():
            return fail(deps, step)


def chunk(deps: IngestDeps, step: ChunkStep) -> Chunked:
    source = deps.objects.source(step.world_id, step.document_id)
    if source is None:
        raise NotFound(f"Document {step.document_id} has no uploaded text.")
    chunks = chunk_document(source, deps.chunking)
    if not chunks:
        raise InvalidRequest("The document has no text to search: only headings or blank lines.")
    deps.objects.put_chunks(step.world_id, step.document_id, chunks)
    deps.documents.chunked(step.world_id, step.document_id, len(chunks), stamp(deps.clock()))
    return Chunked(chunks=len(chunks))


def embed(deps: IngestDeps, step: EmbedStep) -> Embedded:
    chunks = _chunks(deps, step)
    embedder = deps.embedder()
    vectors = deps.objects.vectors(step.world_id, step.document_id, embedder.name)
    if vectors is None or len(vectors) != len(chunks):
        vectors = embedder.embed([c.searchable() for c in chunks])
        deps.objects.put_vectors(step.world_id, step.document_id, embedder.name, vectors)
    return Embedded(embedder=embedder.name, dimensions=int(vectors.shape[1]), chunks=len(chunks))


def build_index(deps: IngestDeps, step: IndexStep) -> BuiltIndex:
    """The current index with this document's chunks in (replacing any it had), as a new version.

    If the current index was built with another embedder than the configured one, every chunk is
    embedded again: one index never mixes vector spaces."""
    if step.attempt >= MAX_PUBLISH_ATTEMPTS:
        raise IndexContention(
            f"The index of world {step.world_id} changed {step.attempt} times while this document "
            "was being added: upload it again."
        )
    embedder = deps.embedder()
    current = deps.pointers.current([step.world_id]).get(step.world_id)
    chunks, vectors = _kept(deps, current, step.document_id, embedder)
    own = _chunks(deps, step)
    own_vectors = deps.objects.vectors(step.world_id, step.document_id, embedder.name)
    if own_vectors is None or len(own_vectors) != len(own):
        own_vectors = embedder.embed([c.searchable() for c in own])
    chunks += own
    vectors = np.vstack([vectors, own_vectors]) if len(vectors) else np.asarray(own_vectors)
    revision = (current.revision if current else 0) + 1
    version = version_name(revision, embedder.name, chunks)
    index = KnowledgeIndex.build(step.world_id, version, embedder.name, chunks, vectors)
    key = index_key(step.world_id, version)
    deps.objects.put_index(key, index.to_bytes())
    return BuiltIndex(
        version=version,
        key=key,
        embedder=embedder.name,
        dimensions=index.dimensions,
        chunks=len(chunks),
        documents=len(index.document_ids),
        revision=revision,
        previous_key=current.key if current else None,
    )


def _kept(
    deps: IngestDeps, current: IndexPointer | None, document_id: str, embedder: Embedder
) -> tuple[list[Chunk], Vectors]:
    """The current index's chunks but those of `document_id`, with vectors of `embedder`."""
    if current is None:
        return [], np.zeros((0, 0), dtype=np.float32)
    index = KnowledgeIndex.from_bytes(deps.objects.index(current.key))
    keep = [i for i, c in enumerate(index.chunks) if c.document_id != document_id]
    chunks = [index.chunks[i] for i in keep]
    if index.embedder == embedder.name:
        return chunks, index.vectors[keep]
    logger.info(
        "Re-embedding a knowledge index",
        extra={"world_id": current.world_id, "from": index.embedder, "to": embedder.name},
    )
    return chunks, embedder.embed([c.searchable() for c in chunks]) if chunks else index.vectors[keep]


def publish(deps: IngestDeps, step: PublishStep) -> Published:
    built = step.index
    at = stamp(deps.clock())
    pointer = IndexPointer(
        world_id=step.world_id, published_at=at, **built.model_dump(exclude={"previous_key"})
    )
    if deps.pointers.publish(pointer, step.document_id, at):
        kept = [k for k in (built.key, built.previous_key) if k]
        deps.objects.prune_indexes(step.world_id, kept, deps.clock() - INDEX_PRUNE_GRACE)
        return Published(published=True, attempt=step.attempt, version=built.version)
    if _published_already(deps, step):
        return Published(published=True, attempt=step.attempt, version=built.version)
    return Published(published=False, attempt=step.attempt + 1, version=built.version)


def _published_already(deps: IngestDeps, step: PublishStep) -> bool:
    """Whether this publish was done before (a redelivery): its version is current, or the document's
    record names it as the first index that held it (another flow may have published on top since)."""
    current = deps.pointers.current([step.world_id]).get(step.world_id)
    if current is not None and current.version == step.index.version:
        return True
    document = deps.documents.get(step.world_id, step.document_id)
    return (
        document is not None
        and document.status is DocumentStatus.READY
        and document.index_version == step.index.version
    )


def fail(deps: IngestDeps, step: FailStep) -> Failed:
    reason = failure_reason(step.error)
    deps.documents.fail(step.world_id, step.document_id, reason, stamp(deps.clock()))
    return Failed(reason=reason)


def failure_reason(error: FlowError) -> str:
    """A reason a studio can read: our own errors' messages; anything else by its type only."""
    error_type, message = error.Error, ""
    try:
        cause = json.loads(error.Cause) if error.Cause else {}
    except ValueError:
        cause = {}
    if isinstance(cause, dict):
        error_type = str(cause.get("errorType") or error_type)
        message = str(cause.get("errorMessage") or "")
    if error_type in EXPLAINED_ERRORS and message:
        reason = message
    else:
        reason = f"Ingestion failed ({error_type or 'unknown error'}): see the flow's execution history."
    return reason[:MAX_REASON_CHARS]


def _chunks(deps: IngestDeps, step: _Step) -> Sequence[Chunk]:
    chunks = deps.objects.chunks(step.world_id, step.document_id)
    if chunks is None:
        raise NotFound(f"Document {step.document_id} has not been chunked.")
    return chunks
