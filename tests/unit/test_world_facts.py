"""World state facts through the real handlers over fakes: optimistic locking with If-Match, one
event per accepted change, who may write, the state a client reads, changes from the bus."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from aicore.auth import Caller, Role
from aicore.events import EventDetail, PublishFailed
from aicore.world.definition import WorldDefinition
from aicore.world.events import WorldFactChanged
from aicore.world.facts import FactChangeRejected, FactDeps
from aicore.world.ticker import TickDeps, tick
from tests.edge_calls import PLAYER, STUDIO, HttpEdge, Reply
from tests.fakes import FakePublisher
from tests.handlers import invoke
from tests.world_fakes import FakeWorldState, demo_content

GAME_SERVER = Caller(subject="gs-1", world_id="demo", roles=(Role.GAME_SERVER,))
NPC_SERVICE = Caller(subject="npc-svc", world_id="demo", roles=(Role.NPC,))


def _put(edge: HttpEdge, key: str, body: Any, if_match: str | None, caller: Caller = GAME_SERVER) -> Reply:
    headers = {} if if_match is None else {"if-match": if_match}
    return edge.call(
        "PUT", f"/worlds/demo/facts/{key}", body=json.dumps(body).encode(), headers=headers, caller=caller
    )


def _changes(edge: HttpEdge) -> list[WorldFactChanged]:
    return [d for _, _, d in edge.world_events.published if isinstance(d, WorldFactChanged)]


def test_if_match_0_creates_a_fact_and_each_change_is_one_event() -> None:
    edge = HttpEdge()
    # When a game server creates a fact, then changes it from the version it read
    created = _put(edge, "bridge_out", {"value": True, "region": "the-roads"}, "0")
    changed = _put(
        edge, "bridge_out", {"value": {"since": "day 3", "repairs": 2}, "region": "the-roads"}, '"1"'
    )
    # Then the versions are 1 and 2, and each change is one event carrying what changed
    assert (created.status, created.body["data"]["version"]) == (200, 1), created.body
    assert (changed.status, changed.body["data"]["version"]) == (200, 2), changed.body
    events = _changes(edge)
    assert [(e.event_id, e.version, e.previous_version) for e in events] == [
        ("fact:bridge_out:1", 1, 0),
        ("fact:bridge_out:2", 2, 1),
    ]
    assert events[1].value == {"since": "day 3", "repairs": 2}
    assert (events[1].region, events[1].changed_by, events[1].via) == ("the-roads", "gs-1", "http")
    assert edge.world_state.outbox("demo") == []


def test_a_stale_writer_gets_409_with_the_current_version_and_no_event() -> None:
    edge = HttpEdge()
    _put(edge, "toll", {"value": 1}, "0")
    _put(edge, "toll", {"value": 2}, "1")
    stale = _put(edge, "toll", {"value": 3}, "1")
    again = _put(edge, "toll", {"value": 3}, "0")  # "create" what exists
    for reply in (stale, again):
        assert (reply.status, reply.body["error"]["code"]) == (409, "conflict")
        assert reply.body["error"]["details"] == {"key": "toll", "current_version": 2}
    assert [e.version for e in _changes(edge)] == [1, 2]
    missing = _put(edge, "never", {"value": 1}, "4")
    assert (missing.status, missing.body["error"]["details"]["current_version"]) == (409, 0)


def test_a_write_without_if_match_is_428() -> None:
    reply = _put(HttpEdge(), "toll", {"value": 1}, None)
    assert (reply.status, reply.body["error"]["code"]) == (428, "precondition_required")


def test_the_studio_game_servers_and_admins_write_facts_players_do_not() -> None:
    edge = HttpEdge()
    assert _put(edge, "a", {"value": 1}, "0", STUDIO).status == 200
    assert _put(edge, "b", {"value": 1}, "0", GAME_SERVER).status == 200
    admin = Caller(subject="root", world_id="elsewhere", roles=(Role.ADMIN,))
    assert _put(edge, "c", {"value": 1}, "0", admin).status == 200
    for refused in (PLAYER, NPC_SERVICE, Caller(subject="gs", world_id="other", roles=(Role.GAME_SERVER,))):
        assert _put(edge, "d", {"value": 1}, "0", refused).status == 403
    assert len(_changes(edge)) == 3


def test_a_change_names_a_real_region_and_stays_small() -> None:
    edge = HttpEdge()
    nowhere = _put(edge, "a", {"value": 1, "region": "atlantis"}, "0")
    assert (nowhere.status, nowhere.body["error"]["code"]) == (400, "invalid_request")
    huge = _put(edge, "a", {"value": "x" * 20_000}, "0")
    assert (huge.status, huge.body["error"]["code"]) == (413, "payload_too_large")
    untyped = _put(edge, "a", {"val": 1}, "0")
    assert untyped.status == 400
    bad_key = _put(edge, "a%20b", {"value": 1}, "0")
    assert bad_key.status == 404
    nothing = edge.call(
        "PUT",
        "/worlds/void/facts/a",
        body=b'{"value": 1}',
        headers={"if-match": "0"},
        caller=Caller(subject="r", world_id="void", roles=(Role.STUDIO,)),
    )
    assert (nothing.status, nothing.body["error"]["code"]) == (404, "not_found")
    assert _changes(edge) == []


def test_thirty_writers_with_the_same_if_match_one_wins() -> None:
    # Given a fact at version 1, and 30 writers that all read it there
    edge = HttpEdge()
    _put(edge, "throne", {"value": "empty"}, "0")
    # When they all write at once
    with ThreadPoolExecutor(max_workers=30) as pool:
        replies = list(pool.map(lambda i: _put(edge, "throne", {"value": f"claimant-{i}"}, "1"), range(30)))
    # Then exactly one wins; every other gets 409 with the winner's version; one event more
    assert sorted(r.status for r in replies) == [200] + [409] * 29
    assert {r.body["error"]["details"]["current_version"] for r in replies if r.status == 409} == {2}
    assert [e.version for e in _changes(edge)] == [1, 2]


def test_the_state_shows_the_clock_the_weather_and_the_facts_at_a_version() -> None:
    edge = HttpEdge()
    edge.world_time = lambda: datetime(2026, 1, 1, 1, tzinfo=UTC)  # an hour after the epoch: 20:00 of day 1
    before = edge.call("GET", "/worlds/demo/state", caller=PLAYER)
    _put(edge, "bridge_out", {"value": True, "region": "the-roads"}, "0")
    after = edge.call("GET", "/worlds/demo/state", caller=PLAYER)
    assert after.status == 200, after.body
    data = after.body["data"]
    clock = data["clock"]
    assert {"game_time", "day", "hour", "part_of_day", "season", "speed"} <= set(clock)
    assert (clock["day"], clock["hour"], clock["part_of_day"], clock["season"]) == (
        1,
        20,
        "evening",
        "spring",
    )
    assert set(data["weather"]) == {"emberfall", "the-roads", "lake-shore", "north-pass"}
    assert set(data["weather"]["emberfall"]) == {"condition", "temperature_c", "wind_kph"}
    assert data["facts"]["bridge_out"] == {"value": True, "version": 1, "region": "the-roads"}
    assert data["facts"]["gate"]["version"] == 1
    assert data["version"] == before.body["data"]["version"] + 1
    assert edge.call("GET", "/worlds/elsewhere/state", caller=PLAYER).status == 403


def test_a_fact_is_readable_now_and_at_each_version() -> None:
    edge = HttpEdge()
    _put(edge, "mood", {"value": "calm"}, "0")
    _put(edge, "mood", {"value": "uneasy"}, "1")
    now = edge.call("GET", "/worlds/demo/facts/mood", caller=PLAYER)
    first = edge.call("GET", "/worlds/demo/facts/mood?version=1", caller=PLAYER)
    assert (now.body["data"]["value"], now.body["data"]["version"]) == ("uneasy", 2)
    assert (first.body["data"]["value"], first.body["data"]["version"]) == ("calm", 1)
    assert edge.call("GET", "/worlds/demo/facts/mood?version=9", caller=PLAYER).status == 404
    assert edge.call("GET", "/worlds/demo/facts/mood?version=x", caller=PLAYER).status == 400


def test_a_change_whose_event_missed_the_bus_is_kept_and_sent_by_the_schedule() -> None:
    # Given the bus fails right after a change is written (as if the function died there)
    edge = HttpEdge()
    wall = {"at": datetime(2026, 1, 2, tzinfo=UTC)}
    edge.world_time = lambda: wall["at"]
    edge.world_events = DownBus()
    # When a fact changes: the writer answers 200 (the change is made), the event waits
    assert _put(edge, "gate", {"value": "shut"}, "1").status == 200
    assert [e.event_id for e in edge.world_state.outbox("demo")] == ["fact:gate:2"]
    # Then the schedule sends it (once) when it is older than any writer could still be running
    bus = FakePublisher()
    edge.world_state.registry.add("demo")
    deps = TickDeps(store=edge.world_state, events=bus, time=lambda: wall["at"])
    tick(deps, "t1")
    assert bus.published == []  # too young: its writer might still send it
    wall["at"] += timedelta(minutes=3)
    tick(deps, "t2")
    tick(deps, "t3")
    assert [d.event_id for _, _, d in bus.published if isinstance(d, WorldFactChanged)] == ["fact:gate:2"]


class DownBus(FakePublisher):
    def publish(self, source: str, detail_type: str, detail: EventDetail) -> None:
        raise PublishFailed("the bus is unreachable")


def _requested(**detail: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e1",
        "detail-type": "World Fact Change Requested",
        "source": "aicore.game",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"world_id": "demo", "correlation_id": "c-1", "game_server": "gs-eu-1", **detail},
    }


def test_game_servers_change_facts_through_the_bus_once_per_request() -> None:
    state, bus = FakeWorldState(), FakePublisher()
    state.put_definition(WorldDefinition.of(demo_content(), 1))
    deps = FactDeps(store=state, events=bus)
    # When a request arrives, and is redelivered
    first = invoke("world-keeper", _requested(request_id="r-1", key="toll", value=3), facts=deps)
    again = invoke("world-keeper", _requested(request_id="r-1", key="toll", value=3), facts=deps)
    # Then it is applied once
    assert (first["outcome"], again["outcome"]) == ("written", "duplicate")
    changes = [d for _, _, d in bus.published if isinstance(d, WorldFactChanged)]
    assert [(c.version, c.via, c.changed_by) for c in changes] == [(1, "event", "gs-eu-1")]
    # And one without a version applies on top of whatever is there; a stale one is rejected
    blind = invoke("world-keeper", _requested(request_id="r-2", key="toll", value=4), facts=deps)
    stale = invoke(
        "world-keeper", _requested(request_id="r-3", key="toll", value=5, expected_version=1), facts=deps
    )
    assert (blind["outcome"], stale["outcome"]) == ("written", "stale")
    rejected = [d for _, _, d in bus.published if isinstance(d, FactChangeRejected)]
    assert [(r.request_id, r.expected_version, r.current_version) for r in rejected] == [("r-3", 1, 2)]
    toll = state.fact("demo", "toll")
    assert toll is not None
    assert (toll.value, toll.version) == (4, 2)


def test_a_request_that_can_never_apply_is_dropped_not_retried() -> None:
    state, bus = FakeWorldState(), FakePublisher()
    state.put_definition(WorldDefinition.of(demo_content(), 1))
    deps = FactDeps(store=state, events=bus)
    nowhere = invoke(
        "world-keeper", _requested(request_id="r-9", key="k", value=1, region="atlantis"), facts=deps
    )
    no_world = _requested(request_id="r-8", key="k", value=1)
    no_world["detail"]["world_id"] = "void"
    unreadable = _requested(key="k", value=1)  # no request_id
    assert nowhere["outcome"] == "invalid"
    assert invoke("world-keeper", no_world, facts=deps)["outcome"] == "invalid"
    assert invoke("world-keeper", unreadable, facts=deps) == {"request_id": None, "outcome": "invalid"}
    assert bus.published == []
