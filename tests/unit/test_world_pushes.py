"""Clients are told as the world changes: world.subscribe / world.unsubscribe frames through the real
handler, and the fan-out of the world's events: each subscriber once, only what concerns it."""

from __future__ import annotations

import json
from typing import Any

from aicore.world.content import WeatherCondition
from aicore.world.definition import WorldDefinition
from aicore.world.events import WeatherChanged, WorldFactChanged
from aicore.world.pushes import Subscription, UpdateDeps, fan_out, update_frame
from tests.edge_calls import WsEdge
from tests.fakes import FakePusher
from tests.handlers import invoke
from tests.npc_turns import CONNECTION
from tests.world_fakes import FakeSubscriptions, FakeWorldState, demo_content


def _frame(action: str, **fields: Any) -> str:
    return json.dumps({"action": action, "request_id": "r1", **fields})


def test_a_client_subscribes_to_its_world_or_some_regions_and_unsubscribes() -> None:
    edge = WsEdge()
    everything = edge.send(_frame("world.subscribe"))
    assert (everything["type"], everything["request_id"]) == ("world.subscribed", "r1")
    assert everything["data"] == {"world_id": "demo", "regions": None}
    some = edge.send(_frame("world.subscribe", regions=["emberfall", "lake-shore", "emberfall"]))
    assert some["data"]["regions"] == ["emberfall", "lake-shore"]
    assert edge.subscriptions.subscribed[CONNECTION] == ("demo", ("emberfall", "lake-shore"))
    gone = edge.send(_frame("world.unsubscribe"))
    assert (gone["type"], gone["data"]) == ("world.unsubscribed", {"world_id": "demo"})
    assert edge.subscriptions.subscribed == {}


def test_a_subscription_names_real_regions_of_a_live_connection() -> None:
    edge = WsEdge()
    unknown = edge.send(_frame("world.subscribe", regions=["atlantis"]))
    assert (unknown["type"], unknown["error"]["code"]) == ("error", "invalid_request")
    assert "emberfall" in unknown["error"]["message"]
    too_many = edge.send(_frame("world.subscribe", regions=[f"r{i}" for i in range(101)]))
    assert too_many["error"]["code"] == "invalid_request"
    edge.subscriptions.disconnect(CONNECTION)
    closed = edge.send(_frame("world.subscribe"))
    assert closed["error"]["code"] == "unauthorized"


def _weather(region: str = "emberfall", hour: int = 100) -> WeatherChanged:
    return WeatherChanged(
        world_id="demo",
        correlation_id="c",
        event_id=f"weather:{region}:{hour}",
        region=region,
        hour=hour,
        condition=WeatherCondition.STORM,
        previous_condition=WeatherCondition.RAIN,
        temperature_c=3.5,
        wind_kph=51.2,
        season="spring",
        part_of_day="night",
    )


def _fact(region: str | None, version: int = 1) -> WorldFactChanged:
    return WorldFactChanged(
        world_id="demo",
        correlation_id="c",
        event_id=f"fact:gate:{version}",
        key="gate",
        value={"open": False},
        region=region,
        version=version,
        previous_version=version - 1,
        changed_by="gs",
        via="http",
    )


def _fifty() -> tuple[UpdateDeps, FakeSubscriptions, FakePusher]:
    """50 connections of the demo world: 20 want everything, 20 Emberfall, 10 the lake shore."""
    subscriptions, pusher = FakeSubscriptions(), FakePusher()
    for i in range(50):
        subscriptions.connect(f"c{i}")
        regions = None if i < 20 else ("emberfall",) if i < 40 else ("lake-shore",)
        subscriptions.subscribe(f"c{i}", "demo", regions)
    definitions = FakeWorldState()
    definitions.put_definition(WorldDefinition.of(demo_content(), 1))
    return UpdateDeps(subscriptions, definitions, pusher), subscriptions, pusher


def test_a_weather_change_reaches_each_subscriber_it_concerns_once() -> None:
    deps, _, pusher = _fifty()
    # When Emberfall's weather changes, and the event is delivered twice
    first, again = fan_out(deps, _weather()), fan_out(deps, _weather())
    # Then the 40 subscribers of the whole world or of Emberfall got one frame each, and no more
    assert (first.sent, first.duplicate, again.sent, again.duplicate) == (40, False, 0, True)
    receivers = [c for c, _ in pusher.frames]
    assert sorted(receivers) == sorted(f"c{i}" for i in range(40))
    frame = pusher.frames[0][1]
    assert frame["type"] == "world.update"
    assert frame["data"] == {
        "kind": "weather",
        "world_id": "demo",
        "event_id": "weather:emberfall:100",
        "occurred_at": frame["data"]["occurred_at"],
        "region": "emberfall",
        "version": 100,
        "hour": 100,
        "condition": "storm",
        "previous_condition": "rain",
        "temperature_c": 3.5,
        "wind_kph": 51.2,
        "season": "spring",
        "part_of_day": "night",
    }


def test_a_fact_of_the_whole_world_reaches_everyone_and_one_of_a_region_its_subscribers() -> None:
    deps, _, pusher = _fifty()
    assert fan_out(deps, _fact(None, 1)).sent == 50
    assert fan_out(deps, _fact("lake-shore", 2)).sent == 30
    data = pusher.frames[-1][1]["data"]
    assert (data["kind"], data["key"], data["value"], data["version"], data["region"]) == (
        "fact",
        "gate",
        {"open": False},
        2,
        "lake-shore",
    )
    assert "region" not in pusher.frames[0][1]["data"]


def test_no_frame_goes_to_a_closed_connection_and_the_gone_are_forgotten() -> None:
    deps, subscriptions, pusher = _fifty()
    # Given 5 connections closed without their $disconnect having run yet, and one whose token expired
    pusher.gone |= {f"c{i}" for i in range(5)}
    subscriptions.live["c5"] = 1_000
    # When a change reaches them
    result = fan_out(deps, _fact(None))
    # Then the gone are forgotten, the expired skipped, everyone else told once
    assert (result.sent, result.gone) == (44, 5)
    assert sorted(subscriptions.forgotten) == sorted(f"c{i}" for i in range(5))
    assert not {c for c, _ in pusher.frames} & {f"c{i}" for i in range(6)}


def test_the_handler_fans_out_an_eventbridge_event() -> None:
    deps, _, pusher = _fifty()
    change = _fact(None)
    event = {
        "version": "0",
        "id": "e",
        "detail-type": "World Fact Changed",
        "source": "aicore.world",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": change.model_dump(mode="json"),
    }
    answer = invoke("world-push", event, deps=deps)
    assert (answer["sent"], answer["duplicate"]) == (50, False)
    assert update_frame(change) == pusher.frames[0][1]


def test_each_subscriber_gets_the_push_in_its_connections_encoding() -> None:
    # Given subscribers whose connections negotiated protobuf (their items say so) and JSON
    deps, subscriptions, pusher = _fifty()
    speaking = {f"c{i}": "protobuf" if i % 2 else "json" for i in range(50)}
    listed = subscriptions.subscribers

    def with_encodings(world_id: str) -> list[Subscription]:
        return [s.model_copy(update={"encoding": speaking[s.connection_id]}) for s in listed(world_id)]

    subscriptions.subscribers = with_encodings  # type: ignore[method-assign]
    # When a change is fanned out
    assert fan_out(deps, _weather()).sent == 40
    # Then the pusher sent each connection's frame in that connection's encoding
    assert {c: pusher.encodings[c] for c, _ in pusher.frames} == {c: speaking[c] for c, _ in pusher.frames}
