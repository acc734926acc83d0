"""What the knowledge base holds: documents, their chunks, knowledge tags, index pointers, hits."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from aicore.inputs import Identifier

# The corpus every world shares lives under this reserved world id (admins write it).
GLOBAL_WORLD = "global"
MAX_TITLE_CHARS = 200
MAX_TAGS = 32  # per kind
TagName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def normalize_tag(tag: str) -> str:
    """Tags match whatever their case and spacing: 'Emberfall  Townsfolk' is 'emberfall townsfolk'."""
    return " ".join(tag.casefold().split())


class KnowledgeTags(BaseModel):
    """Who may know a chunk. Untagged: common knowledge. Tagged: only NPCs whose faction, region or
    id is listed (any one match is enough)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    factions: tuple[TagName, ...] = Field(default=(), max_length=MAX_TAGS)
    regions: tuple[TagName, ...] = Field(default=(), max_length=MAX_TAGS)
    npcs: tuple[Identifier, ...] = Field(default=(), max_length=MAX_TAGS)

    @field_validator("factions", "regions")
    @classmethod
    def _normalized(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted({normalize_tag(t) for t in tags}))

    @field_validator("npcs")
    @classmethod
    def _sorted(cls, npcs: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted(set(npcs)))

    @property
    def untagged(self) -> bool:
        return not (self.factions or self.regions or self.npcs)


class NewDocument(BaseModel):
    """`POST /worlds/{world}/lore/documents`: markdown or plain text, optionally tagged."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    text: str = Field(min_length=1)  # its bound is a setting (`KnowledgePolicy.max_document_chars`)
    tags: KnowledgeTags = KnowledgeTags()

    @field_validator("title", "text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class DocumentStatus(StrEnum):
    INGESTING = "ingesting"
    READY = "ready"  # in the published index
    FAILED = "failed"  # see `reason`


class LoreDocument(BaseModel):
    """A document's record: what the studio sees in `GET …/lore/documents` (its text is in S3)."""

    document_id: str
    world_id: str
    title: str
    status: DocumentStatus
    reason: str | None = None
    tags: KnowledgeTags = KnowledgeTags()
    chars: int
    content_hash: str
    created_at: str
    updated_at: str
    chunks: int | None = None
    index_version: str | None = None  # the first published index that holds it


class DocumentSource(BaseModel):
    """The document as uploaded: the S3 object the flow chunks."""

    document_id: str
    world_id: str
    title: str
    text: str
    tags: KnowledgeTags
    content_hash: str


class Chunk(BaseModel):
    """A passage of a document, the unit of search."""

    model_config = ConfigDict(frozen=True)

    chunk_id: str
    document_id: str
    title: str
    heading: str = ""  # the path of headings above it: "Emberfall > The Forge"
    text: str
    tags: KnowledgeTags = KnowledgeTags()

    def searchable(self) -> str:
        """What keyword and vector search read: the titles give a passage its context."""
        context = " > ".join(part for part in (self.title, self.heading) if part)
        return f"{context}\n{self.text}"


class IndexPointer(BaseModel):
    """Which index version of a world is current: a small DynamoDB item that a turn reads in the
    batch it already makes. `revision` grows by one with each publish (optimistic concurrency)."""

    world_id: str
    version: str
    key: str  # the S3 object of the index
    embedder: str  # the one embedder whose vectors the index holds
    dimensions: int
    chunks: int
    documents: int
    revision: int
    published_at: str


class ChunkScores(BaseModel):
    keyword: float  # BM25 (0: no query word in it)
    vector: float | None  # cosine similarity; None when the query had no vector in the index's space
    total: float  # the fused score results are ranked by


class ChunkHit(BaseModel):
    chunk_id: str
    document_id: str
    world_id: str  # the world's own lore, or `global`
    title: str
    heading: str
    text: str
    scores: ChunkScores
