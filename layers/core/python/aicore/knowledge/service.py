"""The knowledge base's HTTP side: upload a document (the flow takes it from there), list the
documents of a world, search.

Who may do what:
- upload: studio (its own world) and admin; the global corpus (`global`), admin only;
- list: studio and admin (the global corpus too, read only for studios);
- search: studio and admin see everything, or exactly what one NPC may know (`npc=`); a player
  (or an NPC's service token) searches common knowledge only (untagged chunks), never as an NPC.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Literal

from pydantic import BaseModel, Field

from aicore.auth import Caller, Role
from aicore.clock import Clock, now, stamp
from aicore.errors import Conflict, Forbidden, InvalidRequest, NotFound, PayloadTooLarge
from aicore.flows import FlowStarter
from aicore.knowledge.base import KnowledgeBase
from aicore.knowledge.filters import Audience
from aicore.knowledge.models import (
    GLOBAL_WORLD,
    ChunkHit,
    DocumentSource,
    DocumentStatus,
    LoreDocument,
    NewDocument,
)
from aicore.knowledge.store import DocumentStore, KnowledgeObjects
from aicore.topology import KNOWLEDGE_INGEST_FLOW
from aicore.world.store import WorldStore

STUDIO_ROLES = (Role.STUDIO, Role.ADMIN)


class KnowledgePolicy(BaseModel):
    """Bounds of the knowledge base's inputs (settings override them)."""

    max_document_chars: int = Field(200_000, ge=1_000, le=1_000_000)
    max_query_chars: int = Field(500, ge=10, le=4_000)
    default_limit: int = Field(5, ge=1)
    max_limit: int = Field(20, ge=1, le=100)


class Submitted(BaseModel):
    document_id: str
    world_id: str
    status: DocumentStatus
    created: bool  # False: an upload with the same Idempotency-Key was accepted before
    execution_arn: str | None  # the ingestion flow (None: the document was ingested already)


class DocumentList(BaseModel):
    world_id: str
    documents: list[LoreDocument]


class SearchResults(BaseModel):
    world_id: str
    audience: Literal["studio", "public", "npc"]
    npc_id: str | None
    results: list[ChunkHit]


class LoreService:
    def __init__(
        self,
        documents: DocumentStore,
        objects: KnowledgeObjects,
        flows: FlowStarter,
        knowledge: KnowledgeBase,
        world: WorldStore,
        policy: KnowledgePolicy | None = None,
        clock: Clock = now,
    ) -> None:
        self._documents = documents
        self._objects = objects
        self._flows = flows
        self._knowledge = knowledge
        self._world = world
        self._policy = policy or KnowledgePolicy()
        self._clock = clock

    def submit(
        self, caller: Caller, world_id: str, new: NewDocument, idempotency_key: str | None
    ) -> Submitted:
        _require_studio(caller, "upload lore")
        if world_id == GLOBAL_WORLD and not caller.has(Role.ADMIN):
            raise Forbidden("The global corpus is shared by every world: only an admin may add to it.")
        caller.require_world(world_id)
        if len(new.text) > self._policy.max_document_chars:
            raise PayloadTooLarge(
                f"The document is over the limit of {self._policy.max_document_chars} characters: "
                "split it into several documents.",
                {"max_chars": self._policy.max_document_chars},
            )
        at = stamp(self._clock())
        content_hash = _content_hash(new)
        record = LoreDocument(
            document_id=_document_id(world_id, idempotency_key),
            world_id=world_id,
            title=new.title,
            status=DocumentStatus.INGESTING,
            tags=new.tags,
            chars=len(new.text),
            content_hash=content_hash,
            created_at=at,
            updated_at=at,
        )
        existing = self._documents.create(record)
        if existing is not None and existing.content_hash != content_hash:
            raise Conflict(
                "This Idempotency-Key was used for another document: use a new key for new content.",
                {"document_id": existing.document_id},
            )
        stored = existing or record
        if stored.status is not DocumentStatus.INGESTING:  # a retry of an upload that was ingested
            return Submitted(
                document_id=stored.document_id,
                world_id=world_id,
                status=stored.status,
                created=False,
                execution_arn=None,
            )
        # Both are idempotent: a retried upload (same key) finishes what a failed one began.
        self._objects.put_source(
            DocumentSource(
                document_id=stored.document_id,
                world_id=world_id,
                title=new.title,
                text=new.text,
                tags=new.tags,
                content_hash=content_hash,
            )
        )
        started = self._flows.start(
            KNOWLEDGE_INGEST_FLOW,
            _execution_name(world_id, stored.document_id),
            {"world_id": world_id, "document_id": stored.document_id},
        )
        return Submitted(
            document_id=stored.document_id,
            world_id=world_id,
            status=stored.status,
            created=existing is None,
            execution_arn=started.execution_arn,
        )

    def documents(self, caller: Caller, world_id: str) -> DocumentList:
        _require_studio(caller, "list lore documents")
        if world_id != GLOBAL_WORLD:
            caller.require_world(world_id)
        documents = sorted(self._documents.list(world_id), key=lambda d: (d.created_at, d.document_id))
        return DocumentList(world_id=world_id, documents=documents)

    def search(
        self, caller: Caller, world_id: str, query: str | None, npc_id: str | None, limit: int | None
    ) -> SearchResults:
        if world_id != GLOBAL_WORLD:
            caller.require_world(world_id)
        text = self._query(query)
        limit = self._limit(limit)
        studio = any(caller.has(role) for role in STUDIO_ROLES)
        if npc_id is not None and not studio:
            raise Forbidden("Only the studio may search as an NPC: what an NPC knows stays with it.")
        if npc_id is not None:
            audience = self._npc_audience(caller, world_id, npc_id)
        else:
            audience = Audience.studio() if studio else Audience.public()
        results = self._knowledge.relevant(world_id, audience, text, limit=limit)
        return SearchResults(world_id=world_id, audience=audience.kind.value, npc_id=npc_id, results=results)

    def _npc_audience(self, caller: Caller, world_id: str, npc_id: str) -> Audience:
        npc, _ = self._world.npc_and_memory(world_id, npc_id, caller.subject)
        if npc is None:
            raise NotFound(
                f"There is no NPC '{npc_id}' in world '{world_id}'. GET /worlds/{world_id}/npcs lists them.",
                {"npc_id": npc_id, "world_id": world_id},
            )
        return Audience.npc(npc.npc_id, npc.faction, npc.region)

    def _query(self, query: str | None) -> str:
        text = (query or "").strip()
        if not text:
            raise InvalidRequest("Say what to search for: ?q=<words>.", {"fields": ["q"]})
        if len(text) > self._policy.max_query_chars:
            raise InvalidRequest(
                f"The query is over {self._policy.max_query_chars} characters: search with fewer words.",
                {"fields": ["q"]},
            )
        return text

    def _limit(self, limit: int | None) -> int:
        if limit is None:
            return self._policy.default_limit
        if not 1 <= limit <= self._policy.max_limit:
            raise InvalidRequest(
                f"'limit' must be between 1 and {self._policy.max_limit}.", {"fields": ["limit"]}
            )
        return limit


def _require_studio(caller: Caller, what: str) -> None:
    if not any(caller.has(role) for role in STUDIO_ROLES):
        raise Forbidden(f"Only the studio (or an admin) may {what}.")


def _document_id(world_id: str, idempotency_key: str | None) -> str:
    """Random, or derived from the Idempotency-Key (so a retry names the same document)."""
    if idempotency_key is None:
        return f"doc-{uuid.uuid4().hex[:20]}"
    return "doc-" + hashlib.sha256(f"{world_id}\n{idempotency_key}".encode()).hexdigest()[:20]


def _content_hash(new: NewDocument) -> str:
    return hashlib.sha256(new.model_dump_json().encode()).hexdigest()


def _execution_name(world_id: str, document_id: str) -> str:
    """One ingestion per document, however often it is started (execution names are unique)."""
    return f"{document_id}-{hashlib.sha256(world_id.encode()).hexdigest()[:12]}"
