"""Where the knowledge base keeps things, as interfaces (adapters in `aicore.aws.knowledge`).

DynamoDB, in the world table beside the NPCs (`pk = WORLD#<world>`):
- `KNOWLEDGE#DOC#<document_id>`: a document's record (title, tags, status);
- `KNOWLEDGE#INDEX`: the pointer to the world's current index version. A turn reads it (and
  `WORLD#global`'s) in the batch it already makes: `pointer_keys(world_id)`.
S3, in the knowledge bucket:
- `documents/<world>/<document_id>.json`: the document as uploaded (kept);
- `work/<world>/<document_id>/…`: chunks and vectors between the flow's steps (expire);
- `indexes/<world>/<version>.npz`: index versions (the current and the one before are kept).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from aicore.knowledge.models import GLOBAL_WORLD, Chunk, DocumentSource, IndexPointer, LoreDocument
from aicore.world.store import world_pk

if TYPE_CHECKING:
    from aicore.llm.embedding import Vectors

DOCUMENT_PREFIX = "KNOWLEDGE#DOC#"
POINTER_SK = "KNOWLEDGE#INDEX"


def document_sk(document_id: str) -> str:
    return f"{DOCUMENT_PREFIX}{document_id}"


def searched_worlds(world_id: str) -> list[str]:
    """A world's NPCs know its own lore and the global corpus."""
    return [world_id] if world_id == GLOBAL_WORLD else [world_id, GLOBAL_WORLD]


def pointer_keys(world_id: str) -> list[dict[str, str]]:
    """The DynamoDB keys of the index pointers a search in `world_id` needs (for a batch read)."""
    return [{"pk": world_pk(w), "sk": POINTER_SK} for w in searched_worlds(world_id)]


def index_key(world_id: str, version: str) -> str:
    return f"indexes/{world_id}/{version}.npz"


class DocumentStore(Protocol):
    def create(self, document: LoreDocument) -> LoreDocument | None:
        """Store a new record; if one with its id exists, change nothing and return that one."""
        ...

    def get(self, world_id: str, document_id: str) -> LoreDocument | None: ...
    def list(self, world_id: str) -> list[LoreDocument]: ...
    def chunked(self, world_id: str, document_id: str, chunks: int, at: str) -> None: ...
    def fail(self, world_id: str, document_id: str, reason: str, at: str) -> None:
        """Mark it failed with `reason`, unless it is already ready."""
        ...


class IndexPointers(Protocol):
    def current(self, world_ids: Sequence[str]) -> Mapping[str, IndexPointer]:
        """The pointers of the worlds that have an index (one batch read)."""
        ...

    def publish(self, pointer: IndexPointer, document_id: str | None, at: str) -> bool:
        """Make `pointer` current if the current revision is `pointer.revision - 1` (or none when
        it is 1), and mark `document_id` ready, in one transaction. False: someone published first."""
        ...


class KnowledgeObjects(Protocol):
    def put_source(self, source: DocumentSource) -> None: ...
    def source(self, world_id: str, document_id: str) -> DocumentSource | None: ...
    def put_chunks(self, world_id: str, document_id: str, chunks: Sequence[Chunk]) -> None: ...
    def chunks(self, world_id: str, document_id: str) -> list[Chunk] | None: ...
    def put_vectors(self, world_id: str, document_id: str, embedder: str, vectors: Vectors) -> None: ...
    def vectors(self, world_id: str, document_id: str, embedder: str) -> Vectors | None: ...
    def put_index(self, key: str, data: bytes) -> None: ...
    def index(self, key: str) -> bytes: ...
    def prune_indexes(self, world_id: str, keep: Sequence[str], written_before: datetime) -> int:
        """Delete the world's index objects not in `keep` and written before `written_before`; how
        many went. Newer ones stay: another flow may have built one it is about to publish, or have
        published it since `keep` was chosen."""
        ...
