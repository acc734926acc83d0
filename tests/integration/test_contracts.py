"""One contract, two implementations: each test runs against the in-memory fake the unit tests use
and against the DynamoDB adapter on moto server, so the fakes cannot drift from what production does."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from aicore import wiring
from aicore.auth import Caller
from aicore.aws.connections import DynamoConnectionStore
from aicore.aws.sessions.store import DynamoSessionStore
from aicore.aws.world_store import DynamoWorldStore
from aicore.connections import ConnectionStore, new_connection
from aicore.errors import Conflict, InvalidRequest, NotFound
from aicore.performance import PerformanceMode
from aicore.sessions.models import (
    HeadChanges,
    NewMessage,
    Participant,
    ParticipantKind,
    SessionHead,
    StorageTier,
)
from aicore.sessions.store import SessionNotLive, SessionStore, pair_session_id
from aicore.topology import physical_name
from aicore.world.models import LoreFact, Npc, PerformanceSetting
from aicore.world.store import WorldStore
from tests.fakes import FakeConnections, FakeSessions, FakeWorld

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
    assert wiring.tiering_store().freeze(session_id, None) is not None


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


# --- world ------------------------------------------------------------------------------------------


@pytest.fixture(params=["fake", "dynamodb"])
def world(request: pytest.FixtureRequest) -> WorldStore:
    if request.param == "fake":
        return FakeWorld()
    request.getfixturevalue("runtime")
    return DynamoWorldStore(physical_name("local", "world"))


def _npc(world_id: str) -> Npc:
    return Npc(
        npc_id="ada", world_id=world_id, name="Ada", persona="A smith.", speech_style="Terse.", greeting="Hm."
    )


def test_npcs_lore_and_modes_of_a_world(world: WorldStore) -> None:
    world_id = f"w-{uuid.uuid4().hex[:8]}"
    world.put_npc(_npc(world_id))
    world.put_lore(LoreFact(fact_id="f1", world_id=world_id, text="The forge never cools."))
    world.set_performance_mode(
        PerformanceSetting(world_id=world_id, mode=PerformanceMode.FAST, updated_by="s")
    )
    world.set_performance_mode(
        PerformanceSetting(world_id=world_id, player_id="p1", mode=PerformanceMode.QUALITY, updated_by="p1")
    )
    assert [n.npc_id for n in world.list_npcs(world_id)] == ["ada"]
    assert [f.text for f in world.lore(world_id)] == ["The forge never cools."]
    context = world.turn_context(world_id, "ada", "p1")
    assert context.npc == _npc(world_id)
    assert context.memory is None
    assert (context.performance.world_mode, context.performance.player_mode) == (
        PerformanceMode.FAST,
        PerformanceMode.QUALITY,
    )
    assert world.turn_context(world_id, "ghost", "p1").npc is None


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
