"""After each turn, off the player's path (the `npc-memory` consumer of NPC Turn Completed):
the NPC remembers both lines, marks the memories the turn used, takes in how the turn landed
(relationship, emotion), forgets within its bounds, asks for a reflection when enough happened,
refreshes the pair's copy of its general memories, and may pass what it heard on as gossip.

Every step tolerates redelivery: memory ids are derived from the turn, writes are conditional,
and the relationship and emotion change once per turn (a marker in the same transaction).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from aicore.clock import Clock, now, stamp
from aicore.events import EventPublisher
from aicore.llm.embedding import Embedder
from aicore.mind import forgetting, gossip
from aicore.mind.appraisal import Appraisal, Appraiser
from aicore.mind.emotions import NEUTRAL, EmotionState
from aicore.mind.events import ReflectionDue
from aicore.mind.models import MAX_MEMORY_CHARS, Memory, MemoryKind, MemorySource, memory_id
from aicore.mind.policy import MindPolicy
from aicore.mind.relationship import Relationship, RelationshipChange
from aicore.mind.store import MindStore, PairView
from aicore.mind.vectors import to_bytes
from aicore.observability import logger
from aicore.topology import MIND_SOURCE, REFLECTION_DUE
from aicore.world.models import Npc, TurnContext
from aicore.world.store import Feeling, WorldStore

NPC_CACHE_S = 60.0
FEEL_ATTEMPTS = 3
REINDEX_PER_TURN = 16  # memories of another embedder re-embedded after each turn (all, soon enough)


class NpcDirectory:
    """A world's NPCs (who may hear gossip), re-read at most once a minute per warm container."""

    def __init__(self, world: WorldStore, max_age_s: float = NPC_CACHE_S) -> None:
        self._world, self._max_age = world, max_age_s
        self._entries: dict[str, tuple[float, list[Npc]]] = {}

    def npcs(self, world_id: str) -> list[Npc]:
        cached = self._entries.get(world_id)
        if cached is None or time.monotonic() - cached[0] > self._max_age:
            cached = (time.monotonic(), self._world.list_npcs(world_id))
            self._entries[world_id] = cached
        return cached[1]


@dataclass
class MindDeps:
    store: MindStore
    world: WorldStore
    embedder: Embedder
    appraiser: Appraiser
    events: EventPublisher
    npcs: NpcDirectory
    policy: MindPolicy = field(default_factory=MindPolicy)
    clock: Clock = now

    def embed(self, text: str) -> tuple[str, bytes]:
        return self.embedder.name, to_bytes(self.embedder.embed([text])[0])


class ObservedTurn(BaseModel):
    """A finished turn, as the mind needs it (from NPC Turn Completed)."""

    world_id: str
    npc_id: str
    player_id: str
    player_line: str
    reply: str
    turn_id: str  # the turn's correlation id
    occurred_at: str
    memory_ids: list[str] = Field(default_factory=list)  # memories the turn's prompt used


class Remembered(BaseModel):
    npc_id: str
    player_id: str
    written: bool  # False: this turn was already remembered (a redelivery)
    importance: int
    scored_by: str
    feeling: str
    touched: int
    compacted: int
    reflection_due: bool
    gossip: int
    reindexed: int


def observe_turn(deps: MindDeps, turn: ObservedTurn) -> Remembered | None:
    """Everything the mind does after one turn; None when the NPC is unknown."""
    context = deps.world.turn_context(turn.world_id, turn.npc_id, turn.player_id)
    npc = context.npc
    if npc is None:
        logger.warning("A turn of an unknown NPC", extra={"npc_id": turn.npc_id})
        return None
    moment = datetime.fromisoformat(turn.occurred_at)
    pair = deps.store.read_pair(turn.world_id, turn.npc_id, turn.player_id)
    appraisal = deps.appraiser.appraise(npc.name, turn.player_line, turn.reply)
    lines = _turn_memories(deps, turn, appraisal)
    written = deps.store.add(lines, importance=sum(m.importance for m in lines))
    touched = _touch(deps, turn, pair)
    feeling = _feel(deps, turn, npc, context, appraisal, moment)
    held = _together(pair.memories, lines if written else [])
    compacted = _compact(deps, turn.world_id, turn.npc_id, turn.player_id, held, moment)
    reindexed = reindex(deps, pair.memories)
    _refresh_general(deps, turn, pair)
    due = _ask_for_reflection(deps, turn, pair, sum(m.importance for m in lines) if written else 0)
    heard = gossip.spread(
        deps.store, lines[0], npc, deps.npcs.npcs(turn.world_id), moment, deps.policy, deps.embed
    )
    for copy in heard:
        compact_partition(deps, copy.world_id, copy.npc_id, copy.about, moment)
    return Remembered(
        npc_id=turn.npc_id,
        player_id=turn.player_id,
        written=written,
        importance=appraisal.importance,
        scored_by=appraisal.scored_by,
        feeling=feeling.value,
        touched=touched,
        compacted=compacted,
        reflection_due=due,
        gossip=len(heard),
        reindexed=reindexed,
    )


def _turn_memories(deps: MindDeps, turn: ObservedTurn, appraisal: Appraisal) -> list[Memory]:
    said = [
        (MemoryKind.PLAYER_SAID, turn.player_line, appraisal.importance, appraisal.shareable),
        (MemoryKind.NPC_SAID, turn.reply, appraisal.reply_importance, False),
    ]
    vectors = deps.embedder.embed([text[:MAX_MEMORY_CHARS] for _, text, _, _ in said])
    return [
        Memory(
            memory_id=memory_id(turn.world_id, turn.npc_id, turn.player_id, turn.turn_id, kind.value),
            world_id=turn.world_id,
            npc_id=turn.npc_id,
            about=turn.player_id,
            text=text[:MAX_MEMORY_CHARS],
            kind=kind,
            source=MemorySource.TURN,
            importance=importance,
            created_at=turn.occurred_at,
            last_access=turn.occurred_at,
            subjects=(turn.player_id,),
            embedder=deps.embedder.name,
            vector=to_bytes(vectors[i]),
            shareable=shareable,
        )
        for i, (kind, text, importance, shareable) in enumerate(said)
    ]


def _together(held: Sequence[Memory], written: Sequence[Memory]) -> list[Memory]:
    """The pair's memories with those just written, each once: a redelivered turn can read its own
    lines, see a concurrent compaction forget them, and write them again (a compaction that names
    one memory twice is refused by DynamoDB: one operation per item in a transaction)."""
    known = {m.memory_id for m in held}
    return [*held, *(m for m in written if m.memory_id not in known)]


def _touch(deps: MindDeps, turn: ObservedTurn, pair: PairView) -> int:
    """Mark the memories the turn used as accessed now; one accessed lately enough is left alone
    (its recency would move by a percent or less: not worth a write)."""
    if not turn.memory_ids:
        return 0
    lately = stamp(datetime.fromisoformat(turn.occurred_at) - timedelta(hours=deps.policy.touch_after_h))
    stale = {m.memory_id: m for m in (*pair.memories, *pair.general) if m.last_access < lately}
    about = [i for i in turn.memory_ids if i in stale and not stale[i].general]
    general = [i for i in turn.memory_ids if i in stale and stale[i].general]
    touched = deps.store.touch(turn.world_id, turn.npc_id, turn.player_id, about, turn.occurred_at)
    return touched + deps.store.touch(turn.world_id, turn.npc_id, None, general, turn.occurred_at)


def _feel(
    deps: MindDeps, turn: ObservedTurn, npc: Npc, context: TurnContext, appraisal: Appraisal, moment: datetime
) -> Feeling:
    """The relationship and emotion after this turn, stored once (re-read and redone on a race)."""
    temperament = npc.temperament or NEUTRAL
    change = RelationshipChange(
        at=turn.occurred_at,
        trust=appraisal.trust,
        affinity=appraisal.affinity,
        reason=appraisal.reason[:200],
        turn_id=turn.turn_id[:128],
    )
    outcome = Feeling.CONFLICT
    for attempt in range(FEEL_ATTEMPTS):
        if attempt:
            context = deps.world.turn_context(turn.world_id, turn.npc_id, turn.player_id)
        relationship = context.relationship or Relationship.first(turn.world_id, turn.npc_id, turn.player_id)
        emotion = context.emotion or EmotionState.resting(
            turn.world_id, turn.npc_id, temperament, turn.occurred_at
        )
        outcome = deps.world.feel(
            relationship.changed(change, deps.policy.relationship_history),
            emotion.felt(
                moment, turn.occurred_at, temperament, deps.policy.emotion_half_life_h, appraisal.stimulus
            ),
            turn.turn_id,
            (relationship.version, emotion.version),
        )
        if outcome is not Feeling.CONFLICT:
            return outcome
    logger.warning("Feelings of a turn lost every race", extra={"npc_id": turn.npc_id})
    return outcome


def _compact(
    deps: MindDeps, world_id: str, npc_id: str, about: str | None, held: Sequence[Memory], moment: datetime
) -> int:
    bound = deps.policy.max_general_memories if about is None else deps.policy.max_pair_memories
    planned = forgetting.plan(held, bound, moment, deps.policy, deps.embed)
    if planned is None:
        return 0
    deps.store.compact(world_id, npc_id, about, planned.remove, planned.summary)
    logger.info(
        "Memories compacted",
        extra={"npc_id": npc_id, "dropped": planned.dropped, "folded": planned.folded},
    )
    return len(planned.remove)


def compact_partition(deps: MindDeps, world_id: str, npc_id: str, about: str | None, moment: datetime) -> int:
    """Bring one partition within its bound (after memories arrived from elsewhere: gossip, events)."""
    held = (
        deps.store.read_general(world_id, npc_id).memories
        if about is None
        else deps.store.read_pair(world_id, npc_id, about).memories
    )
    return _compact(deps, world_id, npc_id, about, held, moment)


def reindex(deps: MindDeps, memories: Sequence[Memory], limit: int = REINDEX_PER_TURN) -> int:
    """Memories embedded by another embedder (the embedder changed) get this one's vectors, a few
    at a time, off the player's path: until then retrieval ranks them on keywords only, never
    comparing vectors of two spaces."""
    stale = [m for m in memories if m.embedder != deps.embedder.name][:limit]
    if not stale:
        return 0
    vectors = deps.embedder.embed([m.text for m in stale])
    moved = [
        deps.store.revector(
            m.model_copy(update={"embedder": deps.embedder.name, "vector": to_bytes(v)}), m.embedder
        )
        for m, v in zip(stale, vectors, strict=True)
    ]
    return sum(moved)


def _refresh_general(deps: MindDeps, turn: ObservedTurn, pair: PairView) -> None:
    version = deps.store.general_version(turn.world_id, turn.npc_id)
    if version > pair.general_version:
        general = deps.store.read_general(turn.world_id, turn.npc_id)
        if reindex(deps, general.memories):
            general = deps.store.read_general(turn.world_id, turn.npc_id)
        deps.store.copy_general(
            turn.world_id, turn.npc_id, turn.player_id, general.memories, general.state.general_version
        )


def _ask_for_reflection(deps: MindDeps, turn: ObservedTurn, pair: PairView, added: int) -> bool:
    importance = pair.state.importance_since_reflection + added
    if importance < deps.policy.reflection_threshold:
        return False
    deps.events.publish(
        MIND_SOURCE,
        REFLECTION_DUE,
        ReflectionDue(
            world_id=turn.world_id,
            correlation_id=turn.turn_id,
            npc_id=turn.npc_id,
            player_id=turn.player_id,
            reflection=pair.state.reflections,
            importance=importance,
        ),
    )
    return True


def witness(
    deps: MindDeps,
    world_id: str,
    npc_ids: Sequence[str],
    text: str,
    event_id: str,
    occurred_at: str,
    importance: int,
) -> int:
    """A world event the NPCs saw becomes a general memory of each, once per event; how many were new."""
    name, vector = deps.embed(text[:MAX_MEMORY_CHARS])
    new = 0
    for npc_id in npc_ids:
        memory = Memory(
            memory_id=memory_id(world_id, npc_id, "event", event_id),
            world_id=world_id,
            npc_id=npc_id,
            text=text[:MAX_MEMORY_CHARS],
            kind=MemoryKind.WITNESSED,
            source=MemorySource.EVENT,
            importance=importance,
            created_at=occurred_at,
            last_access=occurred_at,
            embedder=name,
            vector=vector,
            shareable=True,
        )
        if deps.store.add([memory], importance=0):
            new += 1
            compact_partition(deps, world_id, npc_id, None, datetime.fromisoformat(occurred_at))
    return new
