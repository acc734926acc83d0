"""Fakes of the adapters' interfaces, for unit tests (fakes over mocks)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aicore.connections import Connection, PlayerConnection
from aicore.errors import Conflict, ModelUnavailable, NotFound
from aicore.events import EventDetail
from aicore.flows import FlowStarted
from aicore.frames import MAX_FRAME_BYTES
from aicore.knowledge.models import IndexPointer
from aicore.knowledge.store import searched_worlds
from aicore.language.proficiency import Proficiency
from aicore.llm.endpoint import ChatCall, ChatResult, ChatStream
from aicore.llm.wire import ChatMessage, Usage
from aicore.mind.emotions import EmotionState
from aicore.mind.models import Memory, MemorySet, heard_memory_id
from aicore.mind.relationship import Relationship
from aicore.mind.store import GeneralView, GossipLimits, MindState, PairView, npc_pk, pair_pk, partition_of
from aicore.performance import PerformanceSettings
from aicore.quests.models import QuestOffer
from aicore.sessions.archive import ArchivedSession
from aicore.sessions.models import HeadChanges, Message, NewMessage, Participant, SessionHead, StorageTier
from aicore.sessions.store import (
    SessionNotLive,
    already_in,
    not_a_participant,
    session_full,
    stale_version,
)
from aicore.wire import encode_server
from aicore.world.models import LoreFact, Npc, NpcMemory, PerformanceSetting, TurnContext
from aicore.world.store import Feeling
from tests.virtual_time import Pause


@dataclass
class FakeConnections:
    items: dict[str, Connection] = field(default_factory=dict)
    player_queries: list[tuple[str, str]] = field(default_factory=list)  # one Query each

    def put(self, connection: Connection) -> None:
        self.items[connection.connection_id] = connection

    def get(self, connection_id: str) -> Connection | None:
        return self.items.get(connection_id)

    def delete(self, connection_id: str) -> None:
        self.items.pop(connection_id, None)

    def of_player(self, world_id: str, player_id: str) -> list[PlayerConnection]:
        self.player_queries.append((world_id, player_id))
        return [
            PlayerConnection(connection_id=c.connection_id, encoding=c.encoding, expires_at=c.expires_at)
            for c in self.items.values()
            if (c.caller.world_id, c.caller.subject) == (world_id, player_id)
        ]


@dataclass
class FakePusher:
    frames: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    closed: list[str] = field(default_factory=list)
    encodings: dict[str, str] = field(default_factory=dict)  # as told by `speaks`

    def speaks(self, connection_id: str, encoding: str) -> None:
        self.encodings[connection_id] = encoding

    def send(self, connection_id: str, frame: dict[str, Any]) -> bool:
        if connection_id in self.gone:
            return False
        if self.encodings.get(connection_id) == "protobuf":
            encode_server(frame)  # what the real pusher sends: every frame must encode
        # as the @connections API: a frame over API Gateway's limit is refused (the adapter raises)
        if len(json.dumps(frame, separators=(",", ":")).encode()) > MAX_FRAME_BYTES:
            raise RuntimeError("PayloadTooLargeException: the frame is over 128 KB")
        self.frames.append((connection_id, frame))
        return True

    def close(self, connection_id: str) -> None:
        if connection_id not in self.gone:
            self.closed.append(connection_id)
            self.gone.add(connection_id)

    def of_type(self, frame_type: str) -> list[dict[str, Any]]:
        return [f for _, f in self.frames if f["type"] == frame_type]


@dataclass
class FakePublisher:
    published: list[tuple[str, str, EventDetail]] = field(default_factory=list)

    def publish(self, source: str, detail_type: str, detail: EventDetail) -> None:
        self.published.append((source, detail_type, detail))


@dataclass
class FakeWorld:
    npcs: dict[tuple[str, str], Npc] = field(default_factory=dict)
    facts: list[LoreFact] = field(default_factory=list)
    memories: dict[tuple[str, str, str], NpcMemory] = field(default_factory=dict)
    modes: dict[tuple[str, str | None], PerformanceSetting] = field(default_factory=dict)
    lore_reads: int = 0
    remembered_turns: set[tuple[tuple[str, str, str], str]] = field(default_factory=set)
    relationships: dict[tuple[str, str, str], Relationship] = field(default_factory=dict)
    emotions: dict[tuple[str, str], EmotionState] = field(default_factory=dict)
    felt_turns: set[tuple[str, str, str, str]] = field(default_factory=set)
    # Knowledge index pointers by world (share `FakeKnowledgeStore.pointers` to see its publishes).
    pointers: dict[str, IndexPointer] = field(default_factory=dict)
    proficiencies: dict[tuple[str, str], Proficiency] = field(default_factory=dict)
    heard_turns: set[tuple[str, str, str]] = field(default_factory=set)
    quest_offers: dict[tuple[str, str, str], QuestOffer] = field(default_factory=dict)

    def npc_and_memory(
        self, world_id: str, npc_id: str, player_id: str
    ) -> tuple[Npc | None, NpcMemory | None]:
        return self.npcs.get((world_id, npc_id)), self.memories.get((world_id, npc_id, player_id))

    def turn_context(self, world_id: str, npc_id: str, player_id: str) -> TurnContext:
        npc, memory = self.npc_and_memory(world_id, npc_id, player_id)
        return TurnContext(
            npc,
            memory,
            self.performance(world_id, player_id),
            self.relationships.get((world_id, npc_id, player_id)),
            self.emotions.get((world_id, npc_id)),
            tuple(self.pointers[w] for w in searched_worlds(world_id) if w in self.pointers),
            self.proficiencies.get((world_id, player_id)),
            self.quest_offers.get((world_id, npc_id, player_id)),
        )

    def hear(self, world_id: str, player_id: str, heard: dict[str, int], turn_id: str) -> bool:
        if (world_id, player_id, turn_id) in self.heard_turns:
            return False
        self.heard_turns.add((world_id, player_id, turn_id))
        old = self.proficiencies.get((world_id, player_id)) or Proficiency(
            world_id=world_id, player_id=player_id
        )
        counts = {**old.heard, **{k: old.heard.get(k, 0) + n for k, n in heard.items()}}
        self.proficiencies[(world_id, player_id)] = old.model_copy(update={"heard": counts})
        return True

    def relationship(self, world_id: str, npc_id: str, player_id: str) -> Relationship | None:
        return self.relationships.get((world_id, npc_id, player_id))

    def feel(
        self, relationship: Relationship, emotion: EmotionState, turn_id: str, expected: tuple[int, int]
    ) -> Feeling:
        pair = (relationship.world_id, relationship.npc_id, relationship.player_id)
        if (*pair, turn_id) in self.felt_turns:
            return Feeling.ALREADY
        stored_relationship = self.relationships.get(pair)
        stored_emotion = self.emotions.get((emotion.world_id, emotion.npc_id))
        versions = (
            stored_relationship.version if stored_relationship else 0,
            stored_emotion.version if stored_emotion else 0,
        )
        if versions != expected:
            return Feeling.CONFLICT
        self.felt_turns.add((*pair, turn_id))
        self.relationships[pair] = relationship
        self.emotions[(emotion.world_id, emotion.npc_id)] = emotion
        return Feeling.FELT

    def performance(self, world_id: str, player_id: str) -> PerformanceSettings:
        """The player's own mode (the world's is a setting), as the DynamoDB store reads it."""
        player = self.modes.get((world_id, player_id))
        return PerformanceSettings(player_mode=player.mode if player else None)

    def set_performance_mode(self, setting: PerformanceSetting) -> None:
        self.modes[(setting.world_id, setting.player_id)] = setting

    def list_npcs(self, world_id: str) -> list[Npc]:
        return [n for (w, _), n in self.npcs.items() if w == world_id]

    def lore(self, world_id: str) -> list[LoreFact]:
        self.lore_reads += 1
        return [f for f in self.facts if f.world_id == world_id]

    def remember(
        self, world_id: str, npc_id: str, player_id: str, line: str, at: str, turn_id: str
    ) -> NpcMemory:
        key = (world_id, npc_id, player_id)
        if (key, turn_id) in self.remembered_turns:
            return self.memories[key]
        self.remembered_turns.add((key, turn_id))
        old = self.memories.get(key) or NpcMemory(world_id=world_id, npc_id=npc_id, player_id=player_id)
        self.memories[key] = old.model_copy(
            update={"turns": old.turns + 1, "last_player_line": line, "last_seen": at}
        )
        return self.memories[key]

    def put_npc(self, npc: Npc) -> None:
        self.npcs[(npc.world_id, npc.npc_id)] = npc

    def put_lore(self, fact: LoreFact) -> None:
        self.facts.append(fact)


@dataclass
class FakeSessions:
    """`SessionStore` in memory; `tests/integration/test_contracts.py` holds it to the DynamoDB store.
    Each write is atomic, as a DynamoDB request is (concurrent writers take turns)."""

    heads: dict[str, SessionHead] = field(default_factory=dict)
    messages: dict[str, list[Message]] = field(default_factory=dict)
    keys: dict[tuple[str, str], int] = field(default_factory=dict)
    _writing: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def create(self, head: SessionHead) -> SessionHead:
        with self._writing:
            if head.session_id in self.heads:
                raise Conflict("exists")
            self.heads[head.session_id] = head
            self.messages[head.session_id] = []
            return head

    def start(self, head: SessionHead, first: list[NewMessage]) -> tuple[SessionHead, list[Message]]:
        with self._writing:
            self.create(head)
            return self.append(head, first)

    def head_and_recent(self, session_id: str, limit: int) -> tuple[SessionHead, list[Message]]:
        head = self.get_head(session_id)
        return head, self.messages[session_id][-limit:]

    def append(self, head: SessionHead, new: list[NewMessage]) -> tuple[SessionHead, list[Message]]:
        with self._writing:
            current = self._live(head.session_id)
            keys = [(head.session_id, n.idempotency_key) for n in new if n.idempotency_key]
            if any(k in self.keys for k in keys):
                return current, self._replay(head.session_id, new)
            count = current.message_count
            added = [
                Message(seq=count + i + 1, speaker=m.speaker, text=m.text, correlation_id=m.correlation_id)
                for i, m in enumerate(new)
            ]
            self.messages[head.session_id] += added
            for message, line in zip(added, new, strict=True):
                if line.idempotency_key:
                    self.keys[(head.session_id, line.idempotency_key)] = message.seq
            self.heads[head.session_id] = current.model_copy(update={"message_count": count + len(new)})
            return self.heads[head.session_id], added

    def _replay(self, session_id: str, new: list[NewMessage]) -> list[Message]:
        seqs = [self.keys.get((session_id, n.idempotency_key or "")) for n in new]
        by_seq = {m.seq: m for m in self.messages[session_id]}
        first = [by_seq[seq] for seq in seqs if seq is not None and seq in by_seq]
        if len(first) != len(new):
            raise Conflict("some stored, some not")
        if any((m.speaker, m.text) != (n.speaker, n.text) for m, n in zip(first, new, strict=True)):
            raise Conflict("a key reused for another message")
        return first

    def get_head(self, session_id: str) -> SessionHead:
        if session_id not in self.heads:
            raise NotFound(f"Session '{session_id}' does not exist.")
        return self.heads[session_id]

    def page(self, head: SessionHead, before: int | None, limit: int) -> list[Message]:
        older = [m for m in self.messages[head.session_id] if before is None or m.seq < before]
        return older[-limit:] if limit > 0 else []

    def update_head(self, session_id: str, expected_version: int, changes: HeadChanges) -> SessionHead:
        with self._writing:
            current = self._at_version(session_id, expected_version)
            update: dict[str, Any] = {"version": current.version + 1}
            if changes.metadata is not None:
                update["metadata"] = changes.metadata
            self.heads[session_id] = current.model_copy(update=update)
            return self.heads[session_id]

    def add_participant(
        self, session_id: str, participant: Participant, expected_version: int | None, limit: int
    ) -> SessionHead:
        with self._writing:
            current = self._at_version(session_id, expected_version)
            known = next((p for p in current.participants if p.id == participant.id), None)
            if known == participant:
                return current
            if known is not None:
                raise already_in(known)
            if len(current.participants) >= limit:
                raise session_full(limit)
            return self._changed(current, [*current.participants, participant])

    def remove_participant(
        self, session_id: str, participant_id: str, expected_version: int | None
    ) -> SessionHead:
        with self._writing:
            current = self._at_version(session_id, expected_version)
            if not current.includes(participant_id):
                raise not_a_participant(participant_id)
            return self._changed(current, [p for p in current.participants if p.id != participant_id])

    def _changed(self, current: SessionHead, participants: list[Participant]) -> SessionHead:
        self.heads[current.session_id] = current.model_copy(
            update={"participants": participants, "version": current.version + 1}
        )
        return self.heads[current.session_id]

    def _live(self, session_id: str) -> SessionHead:
        current = self.get_head(session_id)
        if not current.is_live:
            raise SessionNotLive(current)
        return current

    def _at_version(self, session_id: str, expected_version: int | None) -> SessionHead:
        current = self._live(session_id)
        if expected_version is not None and current.version != expected_version:
            raise stale_version(session_id, current.version, expected_version)
        return current


@dataclass
class FakeColdTier:
    """Cold sessions of a `FakeSessions`: archived copies, brought back on demand."""

    sessions: FakeSessions
    archived: dict[str, ArchivedSession] = field(default_factory=dict)
    rehydrated: list[str] = field(default_factory=list)

    def archive(self, session_id: str) -> None:
        head = self.sessions.heads[session_id]
        self.archived[session_id] = ArchivedSession.of(head, self.sessions.messages[session_id], [])
        key = f"sessions/{head.world_id}/{session_id}.json.gz"
        self.sessions.heads[session_id] = head.model_copy(
            update={"tier": StorageTier.COLD, "archive_key": key}
        )
        self.sessions.messages[session_id] = []

    def read_archived(self, head: SessionHead) -> ArchivedSession | None:
        return self.archived.get(head.session_id)

    def rehydrate_now(self, session_id: str) -> SessionHead:
        archived = self.archived.pop(session_id)
        self.sessions.heads[session_id] = archived.head
        self.sessions.messages[session_id] = list(archived.messages)
        self.rehydrated.append(session_id)
        return archived.head


@dataclass
class FakeFlows:
    started: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def start(self, machine: str, name: str, payload: Mapping[str, Any]) -> FlowStarted:
        already = any(n == name for _, n, _ in self.started)
        if not already:
            self.started.append((machine, name, dict(payload)))
        return FlowStarted(execution_arn=f"arn:aws:states:::execution:{machine}:{name}", started=not already)


@dataclass
class ScriptedEndpoint:
    """Answers each endpoint with scripted tokens, or fails it (before or after some tokens).

    `delays_s` makes an endpoint pause before its first token (a slow tier; `math.inf`: a silent
    one), in virtual time: the router must run on a `tests.virtual_time.VirtualTime`. `usage` is
    sent after the tokens, as an endpoint that counts tokens does.
    """

    tokens: Sequence[str] = ("Well ", "met, ", "traveller.")
    failing: set[str] = field(default_factory=set)
    cut_after: int | None = None
    delays_s: dict[str, float] = field(default_factory=dict)
    usage: Usage | None = None
    calls: list[str] = field(default_factory=list)
    components: list[str | None] = field(default_factory=list)
    last_messages: Sequence[ChatMessage] = ()
    last_max_tokens: int = 0

    def stream_chat(self, call: ChatCall) -> ChatStream:
        self.calls.append(call.target.endpoint)
        self.components.append(call.target.component)
        self.last_messages = call.messages
        self.last_max_tokens = call.max_tokens
        return ChatStream(self._items(call.target.endpoint))

    def _items(self, endpoint_name: str) -> Iterator[str | Usage]:
        if endpoint_name in self.delays_s:
            yield Pause(self.delays_s[endpoint_name])
        if endpoint_name in self.failing:
            raise ModelUnavailable(f"{endpoint_name} is down", {"reason": "ModelError"})
        for i, token in enumerate(self.tokens):
            if self.cut_after is not None and i == self.cut_after:
                raise ModelUnavailable("stream cut", {"reason": "StreamCut"})
            yield token
        if self.usage is not None:
            yield self.usage

    def chat(self, call: ChatCall) -> ChatResult:
        endpoint_name = call.target.endpoint
        self.calls.append(endpoint_name)
        self.components.append(call.target.component)
        if endpoint_name in self.failing:
            raise ModelUnavailable(f"{endpoint_name} is down", {"reason": "ModelError"})
        return ChatResult("".join(self.tokens), 10, len(self.tokens))


@dataclass
class FakeMind:
    """`MindStore` in memory; `tests/integration/test_contracts.py` holds it to the DynamoDB store."""

    partitions: dict[str, dict[str, Memory]] = field(default_factory=dict)
    states: dict[str, MindState] = field(default_factory=dict)
    copies: dict[str, tuple[int, list[Memory]]] = field(default_factory=dict)
    counters: dict[tuple[str, str], int] = field(default_factory=dict)
    queries: int = 0  # Query calls (a turn must cost one)

    def _held(self, pk: str) -> dict[str, Memory]:
        return self.partitions.setdefault(pk, {})

    def turn_memories(self, world_id: str, npc_id: str, player_id: str) -> MemorySet:
        return self.read_pair(world_id, npc_id, player_id).memory_set()

    def read_pair(self, world_id: str, npc_id: str, player_id: str) -> PairView:
        self.queries += 1
        pk = pair_pk(world_id, npc_id, player_id)
        version, general = self.copies.get(pk, (-1, []))
        return PairView(
            memories=sorted(self._held(pk).values(), key=lambda m: m.memory_id),
            general=list(general),
            general_version=version,
            state=self.states.get(pk, MindState()),
        )

    def read_general(self, world_id: str, npc_id: str) -> GeneralView:
        self.queries += 1
        pk = npc_pk(world_id, npc_id)
        return GeneralView(
            memories=sorted(self._held(pk).values(), key=lambda m: m.memory_id),
            state=self.states.get(pk, MindState()),
        )

    def general_version(self, world_id: str, npc_id: str) -> int:
        return self.states.get(npc_pk(world_id, npc_id), MindState()).general_version

    def add(self, memories: Sequence[Memory], importance: int) -> bool:
        if not memories:
            return False
        pk = partition_of(memories[0].world_id, memories[0].npc_id, memories[0].about)
        held = self._held(pk)
        if any(m.memory_id in held for m in memories):
            return False
        held.update({m.memory_id: m for m in memories})
        state = self.states.get(pk, MindState())
        update: dict[str, int] = {
            "importance_since_reflection": state.importance_since_reflection + importance
        }
        if memories[0].about is None:
            update["general_version"] = state.general_version + 1
        self.states[pk] = state.model_copy(update=update)
        return True

    def touch(self, world_id: str, npc_id: str, about: str | None, memory_ids: Sequence[str], at: str) -> int:
        held, changed = self._held(partition_of(world_id, npc_id, about)), 0
        for memory_id in dict.fromkeys(memory_ids):
            memory = held.get(memory_id)
            if memory is not None and memory.last_access < at:
                held[memory_id] = memory.model_copy(update={"last_access": at})
                changed += 1
        return changed

    def compact(
        self, world_id: str, npc_id: str, about: str | None, remove: Sequence[str], summary: Memory | None
    ) -> None:
        touched = [*remove, *([summary.memory_id] if summary is not None else [])]
        if len(set(touched)) != len(touched):  # as DynamoDB refuses it
            raise ValueError("Transaction request cannot include multiple operations on one item")
        pk = partition_of(world_id, npc_id, about)
        held = self._held(pk)
        if summary is not None and summary.memory_id in held:
            return
        for memory_id in remove:
            held.pop(memory_id, None)
        if summary is not None:
            held[summary.memory_id] = summary
        if about is None:
            state = self.states.get(pk, MindState())
            self.states[pk] = state.model_copy(update={"general_version": state.general_version + 1})

    def copy_general(
        self, world_id: str, npc_id: str, player_id: str, general: Sequence[Memory], version: int
    ) -> None:
        pk = pair_pk(world_id, npc_id, player_id)
        if self.copies.get(pk, (-1, []))[0] < version:
            self.copies[pk] = (version, list(general))

    def reflected(
        self, world_id: str, npc_id: str, player_id: str, insights: Sequence[Memory], reflection: int
    ) -> bool:
        pk = pair_pk(world_id, npc_id, player_id)
        state, held = self.states.get(pk), self._held(pk)
        if state is None or state.reflections != reflection or any(m.memory_id in held for m in insights):
            return False
        held.update({m.memory_id: m for m in insights})
        self.states[pk] = state.model_copy(
            update={"reflections": reflection + 1, "importance_since_reflection": 0}
        )
        return True

    def gossip(self, heard: Memory, told: Memory, limits: GossipLimits) -> bool:
        listener = npc_pk(heard.world_id, heard.npc_id)
        pair, total = (listener, f"GOSSIP#{limits.day}#{told.npc_id}"), (listener, f"GOSSIP#{limits.day}")
        held = self._held(partition_of(heard.world_id, heard.npc_id, heard.about))
        told_held = self._held(partition_of(told.world_id, told.npc_id, told.about))
        if (
            heard.memory_id in held
            or self.counters.get(pair, 0) >= limits.per_pair
            or self.counters.get(total, 0) >= limits.per_listener
            or told.memory_id not in told_held
        ):
            return False
        held[heard.memory_id] = heard
        self.counters[pair] = self.counters.get(pair, 0) + 1
        self.counters[total] = self.counters.get(total, 0) + 1
        original = told_held[told.memory_id]
        told_held[told.memory_id] = original.model_copy(
            update={"shared_with": (*original.shared_with, heard.npc_id)}
        )
        if heard.about is None:
            state = self.states.get(listener, MindState())
            self.states[listener] = state.model_copy(update={"general_version": state.general_version + 1})
        return True

    def revector(self, memory: Memory, old_embedder: str) -> bool:
        held = self._held(partition_of(memory.world_id, memory.npc_id, memory.about))
        stored = held.get(memory.memory_id)
        if stored is None or stored.embedder != old_embedder:
            return False
        held[memory.memory_id] = stored.model_copy(
            update={"embedder": memory.embedder, "vector": memory.vector}
        )
        return True

    def get(self, world_id: str, npc_id: str, about: str | None, memory_id: str) -> Memory | None:
        return self._held(partition_of(world_id, npc_id, about)).get(memory_id)

    def forget(self, world_id: str, npc_id: str, about: str | None, memory_id: str) -> Memory | None:
        forgotten = self._held(partition_of(world_id, npc_id, about)).pop(memory_id, None)
        if forgotten is None:
            return None
        for listener in forgotten.shared_with:
            self._held(partition_of(world_id, listener, about)).pop(
                heard_memory_id(world_id, listener, memory_id), None
            )
        return forgotten

    def count(self, world_id: str, npc_id: str, about: str | None) -> int:
        return len(self._held(partition_of(world_id, npc_id, about)))


@dataclass
class ScriptedAppraiser:
    """An `Appraiser` that answers what it is given (the heuristic's answer unless told otherwise)."""

    fixed: Any = None
    calls: int = 0

    def appraise(self, npc_name: str, player_line: str, reply: str) -> Any:
        from aicore.mind.appraisal import heuristic_appraisal

        self.calls += 1
        return self.fixed or heuristic_appraisal(player_line, reply)
