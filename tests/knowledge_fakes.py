"""Fakes of the knowledge base's stores (in memory, with the real stores' conditions) and a cheap
deterministic embedder, for tests of `aicore.knowledge` without AWS or a model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from aicore.clock import Clock, now
from aicore.knowledge.models import Chunk, DocumentSource, DocumentStatus, IndexPointer, LoreDocument
from aicore.llm.embedding import Vectors

_WORD = re.compile(r"[a-z]+")


class HashEmbedder:
    """Bag of hashed words, normalized: texts sharing words are close. `calls` counts batches."""

    dimensions = 64

    def __init__(self, name: str = "test:hash") -> None:
        self.name = name
        self.calls = 0
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        self.texts += len(texts)
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(f"{self.name}|{word}".encode(), digest_size=4).digest()
                vectors[row, int.from_bytes(digest, "little") % self.dimensions] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: Vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        return unit


@dataclass
class FakeKnowledgeStore:
    """`DocumentStore` and `IndexPointers`: a conditional publish, like the DynamoDB one."""

    documents: dict[tuple[str, str], LoreDocument] = field(default_factory=dict)
    pointers: dict[str, IndexPointer] = field(default_factory=dict)
    pointer_reads: int = 0
    lost_publishes: int = 0

    def create(self, document: LoreDocument) -> LoreDocument | None:
        key = (document.world_id, document.document_id)
        if key in self.documents:
            return self.documents[key]
        self.documents[key] = document
        return None

    def get(self, world_id: str, document_id: str) -> LoreDocument | None:
        return self.documents.get((world_id, document_id))

    def list(self, world_id: str) -> list[LoreDocument]:
        return [d for (w, _), d in self.documents.items() if w == world_id]

    def chunked(self, world_id: str, document_id: str, chunks: int, at: str) -> None:
        key = (world_id, document_id)
        self.documents[key] = self.documents[key].model_copy(update={"chunks": chunks, "updated_at": at})

    def fail(self, world_id: str, document_id: str, reason: str, at: str) -> None:
        key = (world_id, document_id)
        if key in self.documents and self.documents[key].status is not DocumentStatus.READY:
            update = {"status": DocumentStatus.FAILED, "reason": reason, "updated_at": at}
            self.documents[key] = self.documents[key].model_copy(update=update)

    def current(self, world_ids: Sequence[str]) -> Mapping[str, IndexPointer]:
        self.pointer_reads += 1
        return {w: self.pointers[w] for w in world_ids if w in self.pointers}

    def publish(self, pointer: IndexPointer, document_id: str | None, at: str) -> bool:
        current = self.pointers.get(pointer.world_id)
        if (current.revision if current else 0) != pointer.revision - 1:
            self.lost_publishes += 1
            return False
        self.pointers[pointer.world_id] = pointer
        if document_id is not None:
            key = (pointer.world_id, document_id)
            document = self.documents[key]
            update = {
                "status": DocumentStatus.READY,
                "reason": None,
                "updated_at": at,
                "index_version": document.index_version or pointer.version,
            }
            self.documents[key] = document.model_copy(update=update)
        return True


@dataclass
class FakeKnowledgeObjects:
    sources: dict[tuple[str, str], DocumentSource] = field(default_factory=dict)
    chunk_lists: dict[tuple[str, str], list[Chunk]] = field(default_factory=dict)
    vector_sets: dict[tuple[str, str, str], Vectors] = field(default_factory=dict)
    indexes: dict[str, bytes] = field(default_factory=dict)
    index_reads: int = 0
    clock: Clock = now  # when an index is written (S3's LastModified)
    written: dict[str, datetime] = field(default_factory=dict)

    def put_source(self, source: DocumentSource) -> None:
        self.sources[(source.world_id, source.document_id)] = source

    def source(self, world_id: str, document_id: str) -> DocumentSource | None:
        return self.sources.get((world_id, document_id))

    def put_chunks(self, world_id: str, document_id: str, chunks: Sequence[Chunk]) -> None:
        self.chunk_lists[(world_id, document_id)] = list(chunks)

    def chunks(self, world_id: str, document_id: str) -> list[Chunk] | None:
        return self.chunk_lists.get((world_id, document_id))

    def put_vectors(self, world_id: str, document_id: str, embedder: str, vectors: Vectors) -> None:
        self.vector_sets[(world_id, document_id, embedder)] = np.array(vectors)

    def vectors(self, world_id: str, document_id: str, embedder: str) -> Vectors | None:
        return self.vector_sets.get((world_id, document_id, embedder))

    def put_index(self, key: str, data: bytes) -> None:
        self.indexes[key] = data
        self.written[key] = self.clock()

    def index(self, key: str) -> bytes:
        self.index_reads += 1
        return self.indexes[key]

    def prune_indexes(self, world_id: str, keep: Sequence[str], written_before: datetime) -> int:
        stale = [
            k
            for k in self.indexes
            if k.startswith(f"indexes/{world_id}/") and k not in keep and self.written[k] < written_before
        ]
        for key in stale:
            del self.indexes[key]
        return len(stale)
