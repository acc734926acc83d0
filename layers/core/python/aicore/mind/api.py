"""The mind over HTTP: an NPC's memories (read, ranked, forgotten) and its relationships.

Studio and admin tokens see every memory and relationship of their world; a player sees, and may
forget, only the NPC's memories about themself (the right to be forgotten), and reads only their
own relationship. General memories (no `about`) are the studio's.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from aicore.auth import Caller, Role
from aicore.errors import Forbidden, InvalidRequest, NotFound
from aicore.inputs import IDENTIFIER_RULE, is_identifier
from aicore.llm.embedding import Embedder
from aicore.mind.models import Memory, MemoryKind, MemorySource, Scores
from aicore.mind.policy import MindPolicy
from aicore.mind.relationship import RelationshipChange, label
from aicore.mind.retrieval import Query, rank
from aicore.mind.store import MindStore
from aicore.world.store import WorldStore

MAX_QUERY_CHARS = 500
DEFAULT_LIMIT, MAX_LIMIT = 20, 50
STUDIO_ROLES = (Role.STUDIO, Role.ADMIN)


class MemoryOut(BaseModel):
    memory_id: str
    text: str
    kind: MemoryKind
    source: MemorySource
    importance: int
    created_at: str
    last_access: str
    heard_from: str | None = None
    cites: list[str] = Field(default_factory=list)
    scores: Scores


class Memories(BaseModel):
    world_id: str
    npc_id: str
    about: str | None  # None: the NPC's general memories
    memories: list[MemoryOut]  # best first


class Forgotten(BaseModel):
    world_id: str
    npc_id: str
    memory_id: str
    forgotten: bool = True
    copies: int  # second-hand copies (gossip) forgotten with it


class RelationshipOut(BaseModel):
    world_id: str
    npc_id: str
    player_id: str
    trust: int
    affinity: int
    label: str
    history: list[RelationshipChange]
    updated_at: str | None


def _studio(caller: Caller) -> bool:
    return any(caller.has(r) for r in STUDIO_ROLES)


def _about(caller: Caller, about: str | None, what: str) -> str | None:
    """Whose memories the caller may reach: a player only their own (the default for them)."""
    if about is not None and not is_identifier(about):
        raise InvalidRequest(f"'about' must be a player id: {IDENTIFIER_RULE}.")
    if _studio(caller):
        return about
    if caller.has(Role.PLAYER) and about in (None, caller.subject):
        return caller.subject
    raise Forbidden(f"A player may {what} only the NPC's memories about themself.")


def _require_npc(world: WorldStore, world_id: str, npc_id: str) -> None:
    npc, _ = world.npc_and_memory(world_id, npc_id, "-")
    if npc is None:
        raise NotFound(
            f"There is no NPC '{npc_id}' in world '{world_id}'. GET /worlds/{world_id}/npcs lists them.",
            {"npc_id": npc_id, "world_id": world_id},
        )


def list_memories(
    store: MindStore,
    world: WorldStore,
    embedder: Embedder,
    policy: MindPolicy,
    caller: Caller,
    world_id: str,
    npc_id: str,
    *,
    about: str | None,
    q: str,
    limit: int | None,
    now: datetime,
) -> Memories:
    caller.require_world(world_id)
    whose = _about(caller, about, "read")
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidRequest(f"'q' is longer than {MAX_QUERY_CHARS} characters: search with fewer words.")
    size = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= size <= MAX_LIMIT:
        raise InvalidRequest(f"'limit' must be between 1 and {MAX_LIMIT}.")
    _require_npc(world, world_id, npc_id)
    held = (
        store.read_general(world_id, npc_id).memories
        if whose is None
        else store.read_pair(world_id, npc_id, whose).memories
    )
    vector = embedder.embed([q])[0] if q.strip() else None
    ranked = rank(held, Query(q, vector, embedder.name), now, policy.weights)[:size]
    return Memories(
        world_id=world_id,
        npc_id=npc_id,
        about=whose,
        memories=[_out(s.memory, s.scores) for s in ranked],
    )


def _out(memory: Memory, scores: Scores) -> MemoryOut:
    return MemoryOut(
        memory_id=memory.memory_id,
        text=memory.text,
        kind=memory.kind,
        source=memory.source,
        importance=memory.importance,
        created_at=memory.created_at,
        last_access=memory.last_access,
        heard_from=memory.heard_from,
        cites=list(memory.cites),
        scores=scores,
    )


def forget(
    store: MindStore, caller: Caller, world_id: str, npc_id: str, memory_id: str, *, about: str | None
) -> Forgotten:
    caller.require_world(world_id)
    whose = _about(caller, about, "forget")
    forgotten = store.forget(world_id, npc_id, whose, memory_id)
    if forgotten is None:
        raise NotFound("There is no such memory: GET the NPC's memories to see their ids.")
    return Forgotten(world_id=world_id, npc_id=npc_id, memory_id=memory_id, copies=len(forgotten.shared_with))


def relationship(
    world: WorldStore, caller: Caller, world_id: str, npc_id: str, player_id: str
) -> RelationshipOut:
    caller.require_world(world_id)
    if not _studio(caller) and not (caller.has(Role.PLAYER) and caller.subject == player_id):
        raise Forbidden("A player may read only their own relationships.")
    _require_npc(world, world_id, npc_id)
    found = world.relationship(world_id, npc_id, player_id)
    trust, affinity = (found.trust, found.affinity) if found else (0, 0)
    return RelationshipOut(
        world_id=world_id,
        npc_id=npc_id,
        player_id=player_id,
        trust=trust,
        affinity=affinity,
        label=label(trust, affinity),
        history=list(found.history) if found else [],
        updated_at=found.updated_at if found else None,
    )
