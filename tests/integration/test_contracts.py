"""One contract, two implementations: each test runs against the in-memory fake the unit tests use
and against the DynamoDB adapter on moto server, so the fakes cannot drift from what production does."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from aicore import aws, wiring
from aicore.auth import Caller
from aicore.aws.connections import DynamoConnectionStore
from aicore.aws.knowledge import DynamoKnowledgeStore
from aicore.aws.mind_store import DynamoMindStore
from aicore.aws.model_registry import DynamoModelRegistry
from aicore.aws.sessions.store import DynamoSessionStore
from aicore.aws.world_store import DynamoWorldStore
from aicore.clock import now
from aicore.connections import ConnectionStore, new_connection
from aicore.errors import Conflict, InvalidRequest, NotFound
from aicore.knowledge.models import GLOBAL_WORLD, IndexPointer
from aicore.knowledge.store import KnowledgeObjects, index_key
from aicore.llm.endpoints_config import EngineSettings, ModelSource
from aicore.llm.tiers import Tier
from aicore.mind.emotions import Emotion, EmotionState, Temperament
from aicore.mind.models import Memory, MemoryKind, MemorySource, heard_memory_id, memory_id
from aicore.mind.relationship import Relationship, RelationshipChange
from aicore.mind.store import GossipLimits, MindStore
from aicore.mind.vectors import to_bytes
from aicore.modelops.models import (
    Deployment,
    FinishedDeployment,
    ModelVersion,
    StagedWeights,
    VersionSpec,
    VersionStatus,
    WeightsStatus,
)
from aicore.modelops.registry import ModelRegistry
from aicore.performance import PerformanceMode
from aicore.sessions.models import (
    HeadChanges,
    Message,
    NewMessage,
    Participant,
    ParticipantKind,
    SessionHead,
    StorageTier,
)
from aicore.sessions.store import SessionNotLive, SessionStore, pair_session_id
from aicore.sessions.tiers import TieringStore
from aicore.topology import physical_name
from aicore.world.models import LoreFact, Npc, PerformanceSetting
from aicore.world.store import Feeling, WorldStore
from tests.fakes import FakeConnections, FakeMind, FakeSessions, FakeWorld
from tests.knowledge_fakes import FakeKnowledgeObjects
from tests.model_fakes import FakeRegistry
from tests.tier_fakes import NOW, FakeTieringStore, Moment

PLAYER = Participant(id="p1", kind=ParticipantKind.PLAYER)
MIRA = Participant(id="mira", kind=ParticipantKind.NPC)


@dataclass
class Sessions:
    store: SessionStore
    freeze: Callable[[str], None]  # move a session out of the live tiers (as the archive flow does)


def _freeze_fake(fake: FakeSessions) -> Callable[[str], None]:
    def freeze(session_id: str) -> None:
        fake.heads[session_id] = fake.heads[session_id].model_copy(update={"tier": StorageTier.ARCHIVING})

    return freeze


def _freeze_dynamo(session_id: str) -> None:
    assert wiring.tiering_store().freeze(session_id, None, f"contract-{uuid.uuid4().hex}") is not None


@pytest.fixture(params=["fake", "dynamodb"])
def sessions(request: pytest.FixtureRequest) -> Sessions:
    if request.param == "fake":
        fake = FakeSessions()
        return Sessions(fake, _freeze_fake(fake))
    request.getfixturevalue("runtime")
    return Sessions(DynamoSessionStore(physical_name("local", "sessions")), _freeze_dynamo)


def _new(store: SessionStore, *participants: Participant) -> SessionHead:
    return store.create(SessionHead(world_id="demo", participants=list(participants or (PLAYER, MIRA))))


def _say(text: str, key: str | None = None, speaker: Participant = PLAYER) -> NewMessage:
    return NewMessage(speaker=speaker, text=text, idempotency_key=key)


# --- sessions ---------------------------------------------------------------------------------------


def test_a_created_session_reads_back_as_created(sessions: Sessions) -> None:
    head = sessions.store.create(
        SessionHead(world_id="demo", participants=[PLAYER, MIRA], metadata={"ratio": 0.5, "tags": ["a"]})
    )
    assert sessions.store.get_head(head.session_id) == head
    assert sessions.store.head_and_recent(head.session_id, 5) == (head, [])
    with pytest.raises(Conflict):
        sessions.store.create(head)


def test_unknown_sessions_are_not_found(sessions: Sessions) -> None:
    with pytest.raises(NotFound):
        sessions.store.get_head("ses_nobody")
    with pytest.raises(NotFound):
        sessions.store.head_and_recent("ses_nobody", 5)


def test_a_session_starts_with_its_first_lines_once(sessions: Sessions) -> None:
    # Given a pair's session id, known before the session exists
    session_id = pair_session_id("demo", f"p-{uuid.uuid4().hex[:8]}", "mira")
    head = SessionHead(session_id=session_id, world_id="demo", participants=[PLAYER, MIRA])
    # When its first line starts it
    started, first = sessions.store.start(head, [_say("Hello, Mira.")])
    # Then it holds that line, and nobody can start it again
    assert (started.message_count, [m.seq for m in first]) == (1, [1])
    assert [m.text for m in sessions.store.head_and_recent(session_id, 5)[1]] == ["Hello, Mira."]
    with pytest.raises(Conflict):
        sessions.store.start(head, [_say("Hello again.")])
    with pytest.raises(Conflict):
        sessions.store.create(head)


def test_an_append_from_a_stale_head_still_lands_after_the_others(sessions: Sessions) -> None:
    # Given two writers that read the head at the same count
    head = _new(sessions.store)
    sessions.store.append(head, [_say("first")])
    # When the second appends from its now stale head
    _, late = sessions.store.append(head, [_say("second")])
    # Then its line lands after the first, not over it
    assert [m.seq for m in late] == [2]
    assert [m.text for m in sessions.store.head_and_recent(head.session_id, 5)[1]] == ["first", "second"]


def test_appends_share_one_order_and_pages_read_it_back(sessions: Sessions) -> None:
    head = _new(sessions.store)
    head, first = sessions.store.append(head, [_say("one"), _say("two")])
    head, second = sessions.store.append(head, [_say("three", speaker=MIRA)])
    assert [m.seq for m in (*first, *second)] == [1, 2, 3]
    assert head.message_count == 3
    current, recent = sessions.store.head_and_recent(head.session_id, 2)
    assert [m.text for m in recent] == ["two", "three"]
    assert current.message_count == 3
    assert [m.text for m in sessions.store.page(current, 3, 5)] == ["one", "two"]
    assert sessions.store.page(current, 1, 5) == []


def test_a_retried_append_with_its_keys_is_stored_once(sessions: Sessions) -> None:
    # Given an append whose lines carry idempotency keys
    head = _new(sessions.store)
    lines = [_say("Any rooms?", "k1"), _say("For two nights.", "k2")]
    _, stored = sessions.store.append(head, lines)
    # When the same append comes again (a client retry after a timeout)
    _, again = sessions.store.append(head, lines)
    # Then it answers with the messages first stored, and nothing was stored twice
    assert [(m.seq, m.text) for m in again] == [(m.seq, m.text) for m in stored]
    _, recent = sessions.store.head_and_recent(head.session_id, 10)
    assert [m.text for m in recent] == ["Any rooms?", "For two nights."]


def test_a_key_used_again_for_other_lines_is_a_conflict(sessions: Sessions) -> None:
    head = _new(sessions.store)
    sessions.store.append(head, [_say("Any rooms?", "k1")])
    with pytest.raises(Conflict):
        sessions.store.append(head, [_say("Something else", "k1")])
    with pytest.raises(Conflict):  # some keys known, some new: the client must sort it out
        sessions.store.append(head, [_say("Any rooms?", "k1"), _say("And stabling?", "k2")])
    _, recent = sessions.store.head_and_recent(head.session_id, 10)
    assert [m.text for m in recent] == ["Any rooms?"]


def test_metadata_changes_are_versioned(sessions: Sessions) -> None:
    head = _new(sessions.store)
    changed = sessions.store.update_head(head.session_id, head.version, HeadChanges(metadata={"a": 1}))
    assert (changed.version, changed.metadata) == (head.version + 1, {"a": 1})
    with pytest.raises(Conflict) as stale:
        sessions.store.update_head(head.session_id, head.version, HeadChanges(metadata={"a": 2}))
    assert stale.value.details["current_version"] == changed.version


def test_participants_join_and_leave_one_at_a_time(sessions: Sessions) -> None:
    head = _new(sessions.store, PLAYER)
    guard = Participant(id="guard", kind=ParticipantKind.NPC)
    joined = sessions.store.add_participant(head.session_id, guard, None, limit=64)
    assert joined.participants == [PLAYER, guard]
    assert joined.version == head.version + 1
    assert sessions.store.add_participant(head.session_id, guard, None, limit=64) == joined
    with pytest.raises(Conflict):
        sessions.store.add_participant(
            head.session_id, Participant(id="guard", kind=ParticipantKind.PLAYER), None, 64
        )
    with pytest.raises(Conflict) as stale:
        sessions.store.add_participant(head.session_id, MIRA, head.version, limit=64)
    assert stale.value.details["current_version"] == joined.version
    with pytest.raises(InvalidRequest):
        sessions.store.add_participant(head.session_id, MIRA, None, limit=2)
    left = sessions.store.remove_participant(head.session_id, "guard", joined.version)
    assert left.participants == [PLAYER]
    with pytest.raises(NotFound):
        sessions.store.remove_participant(head.session_id, "guard", None)


def test_concurrent_joins_of_different_participants_all_land(sessions: Sessions) -> None:
    # Given 30 participants joining one session at once, none with If-Match
    head = _new(sessions.store, PLAYER)
    joining = [Participant(id=f"guest-{i}", kind=ParticipantKind.PLAYER) for i in range(30)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda p: sessions.store.add_participant(head.session_id, p, None, 64), joining))
    # Then every one of them is in, and every join bumped the version once
    final = sessions.store.get_head(head.session_id)
    assert {p.id for p in final.participants} == {PLAYER.id} | {p.id for p in joining}
    assert final.version == head.version + 30


def test_a_session_that_is_not_live_takes_no_writes(sessions: Sessions) -> None:
    head = _new(sessions.store)
    sessions.freeze(head.session_id)
    writes: list[Callable[[], Any]] = [
        lambda: sessions.store.append(head, [_say("hello")]),
        lambda: sessions.store.update_head(head.session_id, head.version, HeadChanges(metadata={})),
        lambda: sessions.store.add_participant(head.session_id, Participant(id="x", kind="npc"), None, 64),
        lambda: sessions.store.remove_participant(head.session_id, "mira", None),
    ]
    for write in writes:
        with pytest.raises(SessionNotLive):
            write()


# --- connections ------------------------------------------------------------------------------------


@pytest.fixture(params=["fake", "dynamodb"])
def connections(request: pytest.FixtureRequest) -> Iterator[ConnectionStore]:
    if request.param == "fake":
        yield FakeConnections()
        return
    request.getfixturevalue("runtime")
    yield DynamoConnectionStore(physical_name("local", "connections"))


def test_connections_are_put_read_and_forgotten(connections: ConnectionStore) -> None:
    connection = new_connection(
        f"c-{uuid.uuid4().hex[:8]}", Caller(subject="p1", world_id="demo"), expires_at=2_000_000_000
    )
    assert connections.get(connection.connection_id) is None
    connections.put(connection)
    assert connections.get(connection.connection_id) == connection
    connections.delete(connection.connection_id)
    assert connections.get(connection.connection_id) is None
    connections.delete(connection.connection_id)  # forgetting twice is fine


def test_a_players_connections_are_found_by_player(connections: ConnectionStore) -> None:
    # Given a player on two connections (one protobuf) and another player on one
    assert isinstance(connections, FakeConnections | DynamoConnectionStore)
    player = f"p-{uuid.uuid4().hex[:8]}"
    mine = [f"c-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    connections.put(new_connection(mine[0], Caller(subject=player, world_id="demo"), 2_000_000_000))
    connections.put(
        new_connection(mine[1], Caller(subject=player, world_id="demo"), 2_000_000_001, encoding="protobuf")
    )
    connections.put(
        new_connection(f"c-{uuid.uuid4().hex[:8]}", Caller(subject="other", world_id="demo"), 2_000_000_000)
    )
    # Then the player's are found, with their encoding and expiry; gone once deleted
    found = sorted((c.connection_id, c.encoding, c.expires_at) for c in connections.of_player("demo", player))
    assert found == sorted([(mine[0], "json", 2_000_000_000), (mine[1], "protobuf", 2_000_000_001)])
    connections.delete(mine[1])
    assert [c.connection_id for c in connections.of_player("demo", player)] == [mine[0]]


# --- world ------------------------------------------------------------------------------------------


@pytest.fixture(params=["fake", "dynamodb"])
def world(request: pytest.FixtureRequest) -> WorldStore:
    if request.param == "fake":
        return FakeWorld()
    request.getfixturevalue("runtime")
    return DynamoWorldStore(physical_name("local", "world"))


def _npc(world_id: str) -> Npc:
    return Npc(
        npc_id="ada",
        world_id=world_id,
        name="Ada",
        persona="A smith.",
        speech_style="Terse.",
        greeting="Hm.",
        temperament=Temperament(joy=0.35, anger=0.25),
        trusts={"borin": -20},
    )


def test_npcs_lore_and_modes_of_a_world(world: WorldStore) -> None:
    world_id = f"w-{uuid.uuid4().hex[:8]}"
    world.put_npc(_npc(world_id))
    world.put_lore(LoreFact(fact_id="f1", world_id=world_id, text="The forge never cools."))
    world.set_performance_mode(
        PerformanceSetting(world_id=world_id, player_id="p1", mode=PerformanceMode.QUALITY, updated_by="p1")
    )
    assert [n.npc_id for n in world.list_npcs(world_id)] == ["ada"]
    assert [f.text for f in world.lore(world_id)] == ["The forge never cools."]
    context = world.turn_context(world_id, "ada", "p1")
    assert context.npc == _npc(world_id)
    assert context.memory is None
    # the player's own mode; the world's is a setting (aicore.platform.settings)
    assert (context.performance.world_mode, context.performance.player_mode) == (
        None,
        PerformanceMode.QUALITY,
    )
    assert world.turn_context(world_id, "ghost", "p1").npc is None


def test_the_turns_batch_carries_the_knowledge_index_pointers(world: WorldStore) -> None:
    # Given a world with an NPC and a published lore index
    world_id = f"w-{uuid.uuid4().hex[:8]}"
    world.put_npc(_npc(world_id))
    assert world.turn_context(world_id, "ada", "p1").knowledge == _global_pointers(world)
    pointer = IndexPointer(
        world_id=world_id,
        version="00000001-abc",
        key=f"indexes/{world_id}/00000001-abc.npz",
        embedder="static:wordllama-l2_supercat-256",
        dimensions=256,
        chunks=3,
        documents=1,
        revision=1,
        published_at="2026-11-30T00:00:00.000+00:00",
    )
    if isinstance(world, FakeWorld):
        world.pointers[world_id] = pointer
    else:
        assert DynamoKnowledgeStore(physical_name("local", "world")).publish(
            pointer, None, pointer.published_at
        )
    # When a turn reads its context, then the world's pointer comes first, then the global corpus's
    assert world.turn_context(world_id, "ada", "p1").knowledge == (pointer, *_global_pointers(world))


def _global_pointers(world: WorldStore) -> tuple[IndexPointer, ...]:
    """The global corpus's pointer, if one was published (the local runtime is shared by the tests)."""
    if isinstance(world, FakeWorld):
        return ()
    return tuple(DynamoKnowledgeStore(physical_name("local", "world")).current([GLOBAL_WORLD]).values())


def test_an_npc_remembers_a_player(world: WorldStore) -> None:
    world_id = f"w-{uuid.uuid4().hex[:8]}"
    world.put_npc(_npc(world_id))
    world.remember(world_id, "ada", "p1", "Hello", "2026-01-01T00:00:00.000+00:00", "turn-1")
    memory = world.remember(world_id, "ada", "p1", "Again", "2026-01-02T00:00:00.000+00:00", "turn-2")
    assert (memory.turns, memory.last_player_line) == (2, "Again")
    assert world.turn_context(world_id, "ada", "p1").memory == memory
    # A turn told again (a redelivered event) is not counted again
    again = world.remember(world_id, "ada", "p1", "Again", "2026-01-02T00:00:00.000+00:00", "turn-2")
    assert again == memory


def test_a_players_proficiency_grows_once_per_turn_and_rides_the_turns_batch(world: WorldStore) -> None:
    # Given a player who never heard a language of the world
    world_id = f"w-{uuid.uuid4().hex[:8]}"
    world.put_npc(_npc(world_id))
    assert world.turn_context(world_id, "ada", "p1").proficiency is None
    # When they hear phrases in two turns, the second told twice (a redelivered event)
    assert world.hear(world_id, "p1", {"ashtongue": 2}, "turn-1")
    assert world.hear(world_id, "p1", {"ashtongue": 1, "old-lacustrine": 1}, "turn-2")
    assert not world.hear(world_id, "p1", {"ashtongue": 1, "old-lacustrine": 1}, "turn-2")
    # Then each turn counted once, per language, and the turn's batch reads it; others heard nothing
    proficiency = world.turn_context(world_id, "ada", "p1").proficiency
    assert proficiency is not None
    assert proficiency.heard == {"ashtongue": 3, "old-lacustrine": 1}
    assert world.turn_context(world_id, "ada", "p2").proficiency is None


# --- mind -------------------------------------------------------------------------------------------


@pytest.fixture(params=["fake", "dynamodb"])
def mind(request: pytest.FixtureRequest) -> MindStore:
    if request.param == "fake":
        return FakeMind()
    request.getfixturevalue("runtime")
    return DynamoMindStore(physical_name("local", "mind"))


def _remembered(
    world_id: str, n: int, text: str, about: str | None = "p1", npc_id: str = "mira", **extra: Any
) -> Memory:
    at = f"2026-11-0{1 + n % 9}T10:00:00.000+00:00"
    vector = to_bytes(np.full(4, 0.5, dtype=np.float32))
    return Memory.model_validate(
        {
            "memory_id": memory_id(world_id, npc_id, str(about), str(n)),
            "world_id": world_id,
            "npc_id": npc_id,
            "about": about,
            "text": text,
            "kind": MemoryKind.PLAYER_SAID if about else MemoryKind.WITNESSED,
            "source": MemorySource.TURN if about else MemorySource.EVENT,
            "importance": 1 + n % 10,
            "created_at": at,
            "last_access": at,
            "subjects": (about,) if about else (),
            "embedder": "static:test",
            "vector": vector,
            **extra,
        }
    )


def test_memories_are_written_once_and_read_back_as_written(mind: MindStore) -> None:
    world_id = f"w-{uuid.uuid4().hex[:8]}"
    first = [_remembered(world_id, 1, "My name is Aldric."), _remembered(world_id, 2, "Aye.")]
    assert mind.add(first, importance=7) is True
    assert mind.add(first, importance=7) is False  # a redelivery writes nothing
    pair = mind.read_pair(world_id, "mira", "p1")
    assert sorted(pair.memories, key=lambda m: m.memory_id) == sorted(first, key=lambda m: m.memory_id)
    assert (pair.state.importance_since_reflection, pair.state.reflections, pair.general_version) == (
        7,
        0,
        -1,
    )
    assert mind.turn_memories(world_id, "mira", "p1").about == pair.memories
    assert mind.get(world_id, "mira", "p1", first[0].memory_id) == first[0]
    assert mind.read_pair(world_id, "mira", "p2").memories == []


def test_general_memories_version_and_the_pairs_copy(mind: MindStore) -> None:
    world_id = f"w-{uuid.uuid4().hex[:8]}"
    assert mind.general_version(world_id, "mira") == 0
    event = _remembered(world_id, 3, "The mill burned down.", about=None)
    assert mind.add([event], importance=0) is True
    assert mind.general_version(world_id, "mira") == 1
    general = mind.read_general(world_id, "mira")
    assert general.memories == [event]
    mind.copy_general(world_id, "mira", "p1", general.memories, version=1)
    mind.copy_general(world_id, "mira", "p1", [], version=0)  # an older copy never replaces a newer one
    pair = mind.read_pair(world_id, "mira", "p1")
    assert (pair.general_version, pair.general) == (1, [event])
    assert mind.turn_memories(world_id, "mira", "p1").general == [event]


def test_access_moves_forward_compaction_swaps_memories_for_a_summary(mind: MindStore) -> None:
    world_id = f"w-{uuid.uuid4().hex[:8]}"
    held = [_remembered(world_id, n, f"Line {n}.") for n in range(1, 5)]
    mind.add(held, importance=4)
    ids = [m.memory_id for m in held]
    assert mind.touch(world_id, "mira", "p1", ids[:2], "2026-12-01T00:00:00.000+00:00") == 2
    assert mind.touch(world_id, "mira", "p1", ids[:2], "2026-11-20T00:00:00.000+00:00") == 0
    assert mind.touch(world_id, "mira", "p1", ["mem_unknown"], "2026-12-02T00:00:00.000+00:00") == 0
    summary = _remembered(
        world_id, 9, "Earlier: lines.", kind=MemoryKind.SUMMARY, source=MemorySource.COMPACTION
    )
    mind.compact(world_id, "mira", "p1", ids[2:], summary)
    mind.compact(world_id, "mira", "p1", ids[2:], summary)  # again: nothing changes
    left = {m.memory_id: m for m in mind.read_pair(world_id, "mira", "p1").memories}
    assert set(left) == {*ids[:2], summary.memory_id}
    assert left[ids[0]].last_access == "2026-12-01T00:00:00.000+00:00"
    assert mind.read_pair(world_id, "mira", "p2").memories == []


def test_a_reflection_is_recorded_once(mind: MindStore) -> None:
    world_id = f"w-{uuid.uuid4().hex[:8]}"
    mind.add([_remembered(world_id, 1, "My sister was taken.")], importance=9)
    insight = _remembered(world_id, 5, "They seek their sister.", kind=MemoryKind.INSIGHT, cites=("x",))
    assert mind.reflected(world_id, "mira", "p1", [insight], reflection=0) is True
    assert mind.reflected(world_id, "mira", "p1", [insight], reflection=0) is False
    assert mind.reflected(world_id, "mira", "p1", [], reflection=0) is False
    state = mind.read_pair(world_id, "mira", "p1").state
    assert (state.reflections, state.importance_since_reflection) == (1, 0)


def test_gossip_is_heard_once_within_the_days_limits_and_forgotten_with_its_source(mind: MindStore) -> None:
    world_id = f"w-{uuid.uuid4().hex[:8]}"
    told = [_remembered(world_id, n, f"Vital news {n}.") for n in range(1, 4)]
    mind.add(told, importance=9)
    limits = GossipLimits(day="2026-11-01", per_pair=2, per_listener=5)

    def heard(source: Memory, listener: str = "borin") -> Memory:
        return source.model_copy(
            update={
                "memory_id": heard_memory_id(world_id, listener, source.memory_id),
                "npc_id": listener,
                "kind": MemoryKind.HEARSAY,
                "source": MemorySource.GOSSIP,
                "heard_from": "mira",
                "origin": source.memory_id,
            }
        )

    assert mind.gossip(heard(told[0]), told[0], limits) is True
    assert mind.gossip(heard(told[0]), told[0], limits) is False  # heard already
    assert mind.gossip(heard(told[1]), told[1], limits) is True
    assert mind.gossip(heard(told[2]), told[2], limits) is False  # two a day from Mira to Borin
    assert mind.gossip(heard(told[2]), told[2], limits.model_copy(update={"day": "2026-11-02"})) is True
    assert mind.gossip(heard(told[0], "greta"), told[0], limits) is True
    source = mind.get(world_id, "mira", "p1", told[0].memory_id)
    assert source is not None
    assert set(source.shared_with) == {"borin", "greta"}
    assert len(mind.read_pair(world_id, "borin", "p1").memories) == 3
    forgotten = mind.forget(world_id, "mira", "p1", told[0].memory_id)
    assert forgotten is not None
    assert mind.forget(world_id, "mira", "p1", told[0].memory_id) is None
    assert len(mind.read_pair(world_id, "borin", "p1").memories) == 2
    assert mind.read_pair(world_id, "greta", "p1").memories == []


def test_relationship_and_emotion_change_once_per_turn_and_never_silently(world: WorldStore) -> None:
    world_id = f"w-{uuid.uuid4().hex[:8]}"
    world.put_npc(_npc(world_id))
    at = "2026-11-01T10:00:00.000+00:00"
    relationship = Relationship.first(world_id, "ada", "p1").changed(
        RelationshipChange(at=at, trust=5, affinity=-3, reason="a promise"), keep=10
    )
    emotion = EmotionState.resting(world_id, "ada", Temperament(), at).felt(
        datetime.fromisoformat(at), at, Temperament(), 2.0, {Emotion.JOY: 0.25}
    )
    assert world.feel(relationship, emotion, "turn-1", (0, 0)) is Feeling.FELT
    assert world.feel(relationship, emotion, "turn-1", (0, 0)) is Feeling.ALREADY
    assert world.feel(relationship, emotion, "turn-2", (0, 0)) is Feeling.CONFLICT  # stale versions
    context = world.turn_context(world_id, "ada", "p1")
    assert context.relationship == relationship
    assert context.emotion == emotion
    assert world.relationship(world_id, "ada", "p1") == relationship
    assert world.turn_context(world_id, "ada", "p2").relationship is None


# --- session tier moves -----------------------------------------------------------------------------

NEVER_STALE, ALWAYS_STALE = "0000", "9999"  # stale-before stamps older and newer than any move


@dataclass
class Tiered:
    store: TieringStore
    new_session: Callable[[], SessionHead]  # a live session of two hot lines


@pytest.fixture(params=["fake", "dynamodb"])
def tiered(request: pytest.FixtureRequest) -> Tiered:
    if request.param == "fake":
        fake = FakeTieringStore(Moment(NOW))

        def new_fake() -> SessionHead:
            head = SessionHead(world_id="demo", participants=[PLAYER, MIRA], message_count=2)
            fake.add(head, [Message(seq=s, speaker=PLAYER, text=f"line {s}") for s in (1, 2)])
            return head

        return Tiered(fake, new_fake)
    request.getfixturevalue("runtime")
    sessions = DynamoSessionStore(physical_name("local", "sessions"))

    def new_dynamo() -> SessionHead:
        started, _ = sessions.start(
            SessionHead(world_id="demo", participants=[PLAYER, MIRA]), [_say("line 1"), _say("line 2")]
        )
        return started

    return Tiered(wiring.tiering_store(), new_dynamo)


def test_an_archive_move_is_its_movers_alone_and_answered_again_without_a_write(tiered: Tiered) -> None:
    store, head = tiered.store, tiered.new_session()
    session_id = head.session_id

    # A freeze by one mover; the same mover again gets the head as it froze it; another gets nothing
    frozen = store.freeze(session_id, None, "archive-a")
    assert frozen is not None
    assert frozen.tier is StorageTier.ARCHIVING
    assert store.freeze(session_id, None, "archive-a") == frozen
    assert store.freeze(session_id, None, "archive-b") is None
    assert store.moved_by(session_id) == (frozen, "archive-a")

    # Only the mover that froze it thaws it, once
    assert store.thaw(session_id, "archive-b") is None
    thawed = store.thaw(session_id, "archive-a")
    assert thawed is not None
    assert thawed.tier is StorageTier.HOT
    assert store.thaw(session_id, "archive-a") is None
    assert store.get_head(session_id).tier is StorageTier.HOT


def test_a_rehydration_is_its_claimants_alone_and_its_claim_is_answered_again(tiered: Tiered) -> None:
    # Given an archived session
    store, live = tiered.store, tiered.new_session()
    session_id = live.session_id
    frozen = store.freeze(session_id, None, "archive-a")
    assert frozen is not None
    store.seal(frozen, "sessions/demo/contract.json.gz")
    store.purge(session_id)

    # A claim; the same claimant again gets it as claimed; another gets nothing until it is stale
    claimed = store.claim_rehydration(session_id, NEVER_STALE, "rehydrate-a")
    assert claimed is not None
    assert (claimed.tier, claimed.archive_key) == (StorageTier.REHYDRATING, "sessions/demo/contract.json.gz")
    assert store.claim_rehydration(session_id, NEVER_STALE, "rehydrate-a") == claimed
    assert store.claim_rehydration(session_id, NEVER_STALE, "rehydrate-b") is None
    taken_over = store.claim_rehydration(session_id, ALWAYS_STALE, "rehydrate-b")
    assert taken_over is not None
    assert store.moved_by(session_id)[1] == "rehydrate-b"

    # The claimant that lost it can neither release nor finish it; the one holding it can
    assert store.release_rehydration(session_id, "rehydrate-a") is None
    with pytest.raises(Conflict):
        store.finish_rehydration(live, "sessions/demo/contract.json.gz", "rehydrate-a")
    back = store.finish_rehydration(live, "sessions/demo/contract.json.gz", "rehydrate-b")
    assert (back.tier, back.archive_key) == (StorageTier.HOT, None)
    assert store.moved_by(session_id) == (back, "rehydrate-b")
    with pytest.raises(Conflict):  # finished: a restore run again is answered before it writes
        store.finish_rehydration(live, "sessions/demo/contract.json.gz", "rehydrate-b")


# --- the model registry -----------------------------------------------------------------------------


@pytest.fixture(params=["fake", "dynamodb"])
def registry(request: pytest.FixtureRequest) -> ModelRegistry:
    if request.param == "fake":
        return FakeRegistry()
    request.getfixturevalue("runtime")
    # A table of its own: the runtime's registry serves the deployment flow tests of the same tiers.
    name = f"aicore-contract-models-{uuid.uuid4().hex[:8]}"
    aws.resource_client(aws.table(name)).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return DynamoModelRegistry(name)


def _deployment(version: str, execution: str, from_version: str | None = None) -> Deployment:
    return Deployment(
        tier=Tier.GOLD,
        version=version,
        from_version=from_version,
        started_by="admin",
        execution_name=execution,
    )


def _registered(registry: ModelRegistry, version: str) -> None:
    spec = VersionSpec(
        version=version,
        model=ModelSource(hf_model_id=f"Qwen/Qwen3-4B-AWQ-{version}", revision="a" * 40),
        engine=EngineSettings(max_model_len=4096, max_batch_size=32, quantization="awq"),
    )
    assert registry.create_version(ModelVersion.register(Tier.GOLD, spec, "admin")) is None


def test_a_deployment_ends_once_and_its_end_run_again_is_answered_as_it_was(registry: ModelRegistry) -> None:
    _registered(registry, "v1")
    _registered(registry, "v2")

    # A deployment that went in service: kept again, it is answered as kept; it cannot fail now
    kept = _deployment("v1", "deploy-1")
    registry.begin(kept)
    served = registry.succeed(kept, None)
    assert (served.history, served.deploying) == (["v1"], None)
    assert registry.succeed(kept, None) == served
    with pytest.raises(Conflict):
        registry.fail(kept, "late", None)

    # A deployment that failed: failed again, it is answered as failed; it cannot be kept now
    failed = _deployment("v2", "deploy-2", from_version="v1")
    registry.begin(failed)
    assert registry.fail(failed, "smoke test failed", None).history == ["v1"]
    assert registry.fail(failed, "smoke test failed", None).history == ["v1"]
    with pytest.raises(Conflict):
        registry.succeed(failed, None)
    v2 = registry.get_version(Tier.GOLD, "v2")
    assert v2 is not None
    assert (v2.status, v2.failure) == (VersionStatus.FAILED, "smoke test failed")
    assert v2.finished == FinishedDeployment(execution_name="deploy-2", outcome="failed")

    # A deployment that never held the tier ends nothing
    with pytest.raises(Conflict):
        registry.succeed(_deployment("v2", "stray"), None)
    v1 = registry.get_version(Tier.GOLD, "v1")
    assert v1 is not None
    assert (v1.status, v1.finished) == (
        VersionStatus.IN_SERVICE,
        FinishedDeployment(execution_name="deploy-1", outcome="in_service"),
    )
    assert registry.tier(Tier.GOLD)[0].history == ["v1"]


def test_an_imports_outcome_is_recorded_again_by_it_alone(registry: ModelRegistry) -> None:
    _registered(registry, "v1")
    registry.begin_import(Tier.GOLD, "v1", "import-1")
    staged = StagedWeights(
        status=WeightsStatus.STAGED, s3_uri="s3://models/hf/x/", files=3, execution_name="import-1"
    )

    # The import's finish, run twice: the same record
    registry.record_weights(Tier.GOLD, "v1", staged)
    registry.record_weights(Tier.GOLD, "v1", staged)
    version = registry.get_version(Tier.GOLD, "v1")
    assert version is not None
    assert version.staged

    # Once another import began, a late step of the first one records nothing
    registry.begin_import(Tier.GOLD, "v1", "import-2")
    with pytest.raises(Conflict):
        registry.record_weights(Tier.GOLD, "v1", staged.model_copy(update={"status": WeightsStatus.FAILED}))
    version = registry.get_version(Tier.GOLD, "v1")
    assert version is not None
    assert version.weights is not None
    assert (version.weights.status, version.weights.execution_name) == (WeightsStatus.IMPORTING, "import-2")
    with pytest.raises(Conflict):  # nor for a version that does not exist
        registry.record_weights(Tier.GOLD, "v9", staged)


# --- knowledge objects ---------------------------------------------------------------------------------


@pytest.fixture(params=["fake", "s3"])
def knowledge_objects(request: pytest.FixtureRequest) -> KnowledgeObjects:
    if request.param == "fake":
        return FakeKnowledgeObjects()
    request.getfixturevalue("runtime")
    return wiring.knowledge_objects()


def test_a_prune_deletes_only_unkept_indexes_written_before_its_bound(
    knowledge_objects: KnowledgeObjects,
) -> None:
    world_id = f"w-{uuid.uuid4().hex[:8]}"
    keys = [index_key(world_id, f"0000000{n}-v") for n in range(3)]
    for key in keys:
        knowledge_objects.put_index(key, key.encode())
    written = now()
    # A bound before they were written prunes nothing; a bound after them, all but the kept one
    assert knowledge_objects.prune_indexes(world_id, keys[:1], written - timedelta(minutes=15)) == 0
    assert knowledge_objects.prune_indexes(world_id, keys[:1], written + timedelta(minutes=1)) == 2
    assert knowledge_objects.index(keys[0]) == keys[0].encode()
    for gone in keys[1:]:
        with pytest.raises((FileNotFoundError, KeyError)):
            knowledge_objects.index(gone)
