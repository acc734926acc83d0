"""World pushes on the real local gateway with real WebSocket clients: 50 subscribed connections get a
weather change once each, a closed connection gets nothing, a redelivered event sends nothing; a fact
of a region reaches its subscribers as the region's narration (world-narrator), once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from aicore import wiring
from aicore.auth import Role
from aicore.local.runtime import LocalRuntime, local_token
from aicore.world.clock import SECONDS_PER_HOUR, ClockState
from aicore.world.definition import WorldDefinition
from aicore.world.ticker import TickDeps, tick_world
from aicore.world.weather import region_weather
from tests.clients import http_json
from tests.waiting import eventually
from tests.world_clients import Subscriber, paused_demo_copy, wait_until
from tests.world_fakes import demo_content

DELIVERY_S = 180.0  # bounds a failure on a busy machine; the pushes take well under a second


def _unlisted_world() -> WorldDefinition:
    """A world with the demo's content, defined but not listed: the runtime's own schedule never
    visits it, so only this test's ticks change its weather."""
    demo = demo_content()
    world = f"w-{uuid.uuid4().hex[:8]}"
    definition = WorldDefinition.of(
        demo.model_copy(update={"world": demo.world.model_copy(update={"world_id": world})}), 1
    )
    wiring.world_state().put_definition(definition)
    return definition


def _next_change(definition: WorldDefinition, after: datetime) -> tuple[datetime, list[str]]:
    """The first real time after `after` at which some regions' weather differs, and which."""
    clock = ClockState.starting(definition.world.clock)
    hour = int(clock.game_seconds(after.timestamp())) // SECONDS_PER_HOUR
    models = {r.region_id: region_weather(definition, r) for r in definition.regions}
    before = {region: model.condition_at(hour) for region, model in models.items()}
    later = hour + 1
    while not (changed := [r for r, m in models.items() if m.condition_at(later) != before[r]]):
        later += 1
    return after + timedelta(seconds=(later - hour) * SECONDS_PER_HOUR / clock.speed + 1), changed


def test_fifty_subscribers_each_get_a_weather_change_once_and_closed_ones_nothing(
    runtime: LocalRuntime,
) -> None:
    asyncio.run(_fifty_subscribers(runtime))


async def _fifty_subscribers(runtime: LocalRuntime) -> None:
    definition = _unlisted_world()
    world = definition.world_id
    ws_url = runtime.gateway.gateway.ws_url
    # Given 60 real WebSocket clients subscribed to the world, 10 of which then close
    clients = [await Subscriber.open(ws_url, local_token(f"p-{i}", world)) for i in range(60)]
    staying, leaving = clients[:50], clients[50:]
    for client in leaving:
        await client.close()
    subscriptions = wiring.subscriptions()
    eventually(
        lambda: len(subscriptions.subscribers(world)) == 50, timeout_s=60, what="closed ones unsubscribed"
    )
    # And the world's weather looked at once (recorded, nothing announced)
    epoch = definition.world.clock.epoch
    wall = {"at": epoch}
    deps = TickDeps(store=wiring.world_state(), events=wiring.events(), time=lambda: wall["at"])
    assert await asyncio.to_thread(tick_world, deps, world, "baseline") == []
    # When the weather changes and the schedule ticks (twice: Scheduler may deliver a tick twice)
    wall["at"], changed = _next_change(definition, epoch)
    announced = await asyncio.to_thread(tick_world, deps, world, "tick")
    assert await asyncio.to_thread(tick_world, deps, world, "tick-again") == []
    assert sorted(event_id.split(":")[1] for event_id in announced) == sorted(changed)
    # Then every subscriber gets one weather frame per changed region, through the bus and the gateway
    await wait_until(
        lambda: all(len(c.kinds("weather")) >= len(changed) for c in staying), DELIVERY_S, "weather frames"
    )
    # And a redelivery of the event sends nothing (the fan-out is claimed once per event)
    redelivered = runtime.lambdas.invoke("world-push", _event(world, announced[0]))
    assert (redelivered["sent"], redelivered["duplicate"]) == (0, True)
    # And after a later change everyone saw (a sentinel), no weather frame came twice
    sentinel_at, _ = _next_change(definition, wall["at"])
    wall["at"] = sentinel_at
    more = await asyncio.to_thread(tick_world, deps, world, "sentinel")
    await wait_until(
        lambda: all(len(c.kinds("weather")) >= len(changed) + len(more) for c in staying),
        DELIVERY_S,
        "sentinel",
    )
    for client in staying:
        ids = [f["data"]["event_id"] for f in client.kinds("weather")]
        assert sorted(ids) == sorted(announced + more), ids
        assert all(f["data"]["world_id"] == world for f in client.kinds("weather"))
    assert all(client.updates == [] for client in leaving)
    for client in staying:
        await client.close()


def _event(world: str, event_id: str) -> dict[str, object]:
    """The EventBridge event of an announcement, as a redelivery would bring it again."""
    region, hour = event_id.split(":")[1], int(event_id.split(":")[2])
    definition = wiring.world_state().definition(world)
    assert definition is not None
    spec = definition.region(region)
    assert spec is not None
    weather = region_weather(definition, spec).at(hour)
    return {
        "version": "0",
        "id": "redelivered",
        "detail-type": "Weather Changed",
        "source": "aicore.world",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "world_id": world,
            "correlation_id": "again",
            "event_id": event_id,
            "region": region,
            "hour": hour,
            "condition": weather.condition.value,
            "previous_condition": weather.condition.value,
            "temperature_c": weather.temperature_c,
            "wind_kph": weather.wind_kph,
            "season": "spring",
            "part_of_day": "night",
        },
    }


def test_a_fact_of_a_region_reaches_its_subscribers_as_its_narration_once(runtime: LocalRuntime) -> None:
    asyncio.run(_fact_to_narration(runtime))


async def _fact_to_narration(runtime: LocalRuntime) -> None:
    base, ws_url = runtime.gateway.gateway.url, runtime.gateway.gateway.ws_url
    world = await asyncio.to_thread(paused_demo_copy, base, "n")
    # Given a real WebSocket client subscribed to Emberfall, one to the lake shore
    ember = await Subscriber.open(ws_url, local_token("p-1", world), ["emberfall"])
    lake = await Subscriber.open(ws_url, local_token("p-2", world), ["lake-shore"])
    # When a game server changes a fact of Emberfall (the runtime narrates from templates: WORLD_NARRATOR)
    status, answer = await asyncio.to_thread(_put_fact, base, world, "forge_cold", "emberfall")
    assert status == 200, answer
    # Then Emberfall's subscriber gets the region's narration after the fact itself
    await wait_until(lambda: ember.kinds("narration"), DELIVERY_S, "Emberfall's narration")
    narration = ember.kinds("narration")[0]["data"]
    assert (narration["world_id"], narration["region"], narration["event_id"]) == (
        world,
        "emberfall",
        "narration:emberfall:fact:forge_cold:1",
    )
    assert narration["narration_source"] == "template"
    assert "Emberfall" in narration["narration"]
    assert "Forge cold: true." in narration["narration"]
    assert narration["version"] >= 1
    # When the fact's event reaches the narrator again (EventBridge delivers at least once)
    again = runtime.lambdas.invoke("world-narrator", _fact_event(world, "forge_cold", "emberfall"))
    assert again["event_id"] == narration["event_id"]
    # And a fact of the lake shore follows (a sentinel: pushed after whatever the redelivery sent)
    assert (await asyncio.to_thread(_put_fact, base, world, "reeds_cut", "lake-shore"))[0] == 200
    await wait_until(lambda: lake.kinds("narration"), DELIVERY_S, "the lake shore's narration")
    # Then each subscriber got its own region's narration once, and nothing of the other region
    assert [f["data"]["region"] for f in ember.kinds("narration")] == ["emberfall"]
    assert [f["data"]["region"] for f in lake.kinds("narration")] == ["lake-shore"]
    await ember.close()
    await lake.close()


def _put_fact(base: str, world: str, key: str, region: str) -> tuple[int, dict[str, object]]:
    game_server = local_token("gs-1", world, (Role.GAME_SERVER,))
    url = f"{base}/worlds/{world}/facts/{key}"
    return http_json(url, game_server, "PUT", {"value": True, "region": region}, {"If-Match": "0"})


def _fact_event(world: str, key: str, region: str) -> dict[str, object]:
    """The EventBridge event of the fact's first version, as a redelivery would bring it again."""
    fact = wiring.world_state().fact(world, key)
    assert fact is not None
    return {
        "version": "0",
        "id": "redelivered",
        "detail-type": "World Fact Changed",
        "source": "aicore.world",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "world_id": world,
            "correlation_id": "again",
            "event_id": f"fact:{key}:1",
            "key": key,
            "value": fact.value,
            "region": region,
            "version": 1,
            "previous_version": 0,
            "changed_by": "gs-1",
            "via": "http",
        },
    }
