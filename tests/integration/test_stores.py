"""The DynamoDB adapters against moto server: versioned sessions, world content, memories."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from aicore import wiring
from aicore.auth import Caller, Role
from aicore.aws.sessions.store import DynamoSessionStore
from aicore.errors import Conflict, NotFound
from aicore.local.runtime import LocalRuntime
from aicore.sessions.models import NewMessage, Participant, ParticipantKind, SessionHead
from aicore.world.models import Npc

PLAYER = Participant(id="p1", kind=ParticipantKind.PLAYER)


@pytest.fixture
def store(runtime: LocalRuntime) -> DynamoSessionStore:
    return wiring.sessions()


def _new_session(store: DynamoSessionStore, world: str = "demo") -> SessionHead:
    metadata = {"ratio": 0.5, "tags": ["a"]}
    return store.create(SessionHead(world_id=world, participants=[PLAYER], metadata=metadata))


def test_head_round_trips_with_free_form_metadata(store: DynamoSessionStore) -> None:
    head = _new_session(store)
    read, messages = store.head_and_recent(head.session_id, 10)
    assert read == head
    assert messages == []


def test_concurrent_appends_lose_nothing_and_share_one_order(store: DynamoSessionStore) -> None:
    # Given one session and 16 writers appending 3 messages each at the same time
    head = _new_session(store)

    def write(writer: int) -> None:
        current = head
        for i in range(3):
            current, _ = store.append(current, [NewMessage(speaker=PLAYER, text=f"w{writer}-{i}")])

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(write, range(16)))
    # Then every message is there exactly once, in one total order (a reservation retried after a
    # lost answer may leave an unused number)
    final, messages = store.head_and_recent(head.session_id, 100)
    seqs = [m.seq for m in messages]
    assert seqs == sorted(set(seqs))
    assert len(seqs) == 48
    assert final.message_count == seqs[-1]
    assert sorted(m.text for m in messages) == sorted(f"w{w}-{i}" for w in range(16) for i in range(3))
    # And each writer's own messages keep their order
    for w in range(16):
        mine = [m.text for m in messages if m.text.startswith(f"w{w}-")]
        assert mine == [f"w{w}-{i}" for i in range(3)]


def test_recent_page_is_the_newest_oldest_first(store: DynamoSessionStore) -> None:
    head = _new_session(store)
    store.append(head, [NewMessage(speaker=PLAYER, text=str(i)) for i in range(1, 8)])
    _, recent = store.head_and_recent(head.session_id, 3)
    assert [m.text for m in recent] == ["5", "6", "7"]


def test_pair_session_is_created_once_under_a_race(store: DynamoSessionStore) -> None:
    caller = Caller(subject=f"p-{uuid.uuid4().hex[:6]}", world_id="demo")
    with ThreadPoolExecutor(max_workers=8) as pool:
        views = list(
            pool.map(lambda _: wiring.session_service().conversation(caller, "mira", None, 5), range(8))
        )
    ids = {view.head.session_id for view in views}
    assert len(ids) == 1


def test_duplicate_create_is_a_conflict(store: DynamoSessionStore) -> None:
    head = _new_session(store)
    with pytest.raises(Conflict):
        store.create(head)


def test_reading_rules(store: DynamoSessionStore) -> None:
    head = _new_session(store)
    read = wiring.session_service().get
    assert read(Caller(subject="p1", world_id="demo"), head.session_id).session == head
    for outsider in (
        Caller(subject="p2", world_id="demo"),
        Caller(subject="p1", world_id="elsewhere"),
        Caller(subject="s", world_id="elsewhere", roles=(Role.STUDIO,)),
    ):
        with pytest.raises(NotFound):
            read(outsider, head.session_id)
    assert read(Caller(subject="s", world_id="demo", roles=(Role.STUDIO,)), head.session_id)
    assert read(Caller(subject="a", world_id="x", roles=(Role.ADMIN,)), head.session_id)


def test_world_store_seeded_and_memory_counts(runtime: LocalRuntime) -> None:
    world = wiring.world()
    npcs = {n.npc_id: n for n in world.list_npcs("demo")}
    assert {"mira", "borin", "sable"} <= set(npcs)
    assert len({n.persona for n in npcs.values()}) == len(npcs)
    assert world.lore("demo")
    player = f"p-{uuid.uuid4().hex[:6]}"
    world.remember("demo", "borin", player, "hello", "2026-11-23T00:00:00Z", "t1")
    world.remember("demo", "borin", player, "again", "2026-11-23T00:01:00Z", "t2")
    npc, memory = world.npc_and_memory("demo", "borin", player)
    assert isinstance(npc, Npc)
    assert memory is not None
    assert (memory.turns, memory.last_player_line) == (2, "again")


class _RetriedAfterCommit:
    """A DynamoDB client whose writes commit, lose their answer, and are sent again (as botocore
    does after a read timeout): the second send meets what the first one stored."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def transact_write_items(self, **request: Any) -> Any:
        self._client.transact_write_items(**request)  # committed; its answer never arrives
        return self._client.transact_write_items(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.mark.parametrize("lines", [1, 3])
def test_a_write_that_committed_before_its_answer_was_lost_is_not_a_failure(
    store: DynamoSessionStore, lines: int
) -> None:
    # Given a session, and a store whose every write is retried after it committed
    head = _new_session(store)
    retried = DynamoSessionStore(wiring.session_table())
    retried._client = _RetriedAfterCommit(retried._client)
    # When lines are appended through it (the first append at the current count; then from a stale head)
    new = [NewMessage(speaker=PLAYER, text=f"line {i}") for i in range(lines)]
    _, first = retried.append(head, new)
    _, second = retried.append(head, new)
    # Then both appends succeed, and each line is stored once, in one order
    assert [m.seq for m in first] == list(range(1, lines + 1))
    assert [m.seq for m in second] == list(range(lines + 1, 2 * lines + 1))
    _, stored = store.head_and_recent(head.session_id, 10)
    assert [m.seq for m in stored] == list(range(1, 2 * lines + 1))


def test_a_players_connections_are_one_query_of_the_player_index(runtime: LocalRuntime) -> None:
    # Given two connections of one player (one protobuf) and one of another player, in moto's DynamoDB
    from aicore.connections import new_connection

    store = wiring.connections()
    player, other = f"p-{uuid.uuid4().hex[:8]}", f"p-{uuid.uuid4().hex[:8]}"
    mine = Caller(subject=player, world_id="demo", roles=(Role.PLAYER,))
    store.put(new_connection("c-1", mine, expires_at=2_000_000_000))
    store.put(new_connection("c-2", mine, expires_at=2_000_000_100, encoding="protobuf"))
    store.put(new_connection("c-3", Caller(subject=other, world_id="demo"), expires_at=2_000_000_000))
    # When the player's connections are asked for
    found = store.of_player("demo", player)
    # Then both of theirs come back, with what a push needs, and no one else's
    assert sorted((c.connection_id, c.encoding, c.expires_at) for c in found) == [
        ("c-1", "json", 2_000_000_000),
        ("c-2", "protobuf", 2_000_000_100),
    ]
    store.delete("c-2")
    assert [c.connection_id for c in store.of_player("demo", player)] == ["c-1"]
    assert store.of_player("elsewhere", player) == []
