"""The living world, measured: a 30-game-day weather simulation, what reading the world costs a turn,
a fact change, and the push fan-out to 50, 100 and 1,000 real WebSocket subscribers on the local
runtime (from the schedule's tick to the last client's frame).

    python -m bench.world [--subscribers 50 100 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from aicore import wiring
from aicore.auth import Role
from aicore.local.embedded_aws import free_port
from aicore.local.runtime import LocalRuntime, RuntimeOptions, local_token
from aicore.world.clock import SECONDS_PER_HOUR, ClockState
from aicore.world.definition import WorldDefinition
from aicore.world.now import read_world_now
from aicore.world.ticker import TickDeps, tick, tick_world
from aicore.world.weather import region_weather
from bench.common import CallCounter, machine, write_report
from tests.clients import http_json
from tests.fakes import FakePublisher
from tests.world_clients import Subscriber, wait_until
from tests.world_fakes import FakeWorldState, demo_content

DELIVERY_S = 600.0


def simulate(days: int = 30) -> dict[str, Any]:
    """A tick every real minute (each delivered twice) over `days` game days of the demo world."""
    definition = WorldDefinition.of(demo_content(), 1)
    state, publisher = FakeWorldState(), FakePublisher()
    state.put_definition(definition)
    state.registry.add("demo")
    epoch = definition.world.clock.epoch
    wall = {"at": epoch}
    deps = TickDeps(store=state, events=publisher, time=lambda: wall["at"])
    minutes = int(days * 24 * SECONDS_PER_HOUR / definition.world.clock.speed / 60)
    started = time.perf_counter()
    for minute in range(minutes):
        wall["at"] = epoch + timedelta(minutes=minute)
        tick(deps, "bench")
        tick(deps, "bench-again")
    seconds = time.perf_counter() - started
    return {
        "game_days": days,
        "regions": len(definition.regions),
        "ticks": 2 * minutes,
        "announced": len(publisher.published),
        "seconds": round(seconds, 2),
        "ms_per_tick": round(seconds * 1000 / (2 * minutes), 3),
    }


def _unlisted_world() -> WorldDefinition:
    demo = demo_content()
    world = f"bench-{uuid.uuid4().hex[:8]}"
    definition = WorldDefinition.of(
        demo.model_copy(update={"world": demo.world.model_copy(update={"world_id": world})}), 1
    )
    wiring.world_state().put_definition(definition)
    return definition


def _next_change(definition: WorldDefinition, after: datetime) -> tuple[datetime, int]:
    clock = ClockState.starting(definition.world.clock)
    hour = int(clock.game_seconds(after.timestamp())) // SECONDS_PER_HOUR
    models = [region_weather(definition, r) for r in definition.regions]
    before = [m.condition_at(hour) for m in models]
    later = hour + 1
    while not (changed := sum(m.condition_at(later) != b for m, b in zip(models, before, strict=True))):
        later += 1
    return after + timedelta(seconds=(later - hour) * SECONDS_PER_HOUR / clock.speed + 1), changed


async def fan_out(runtime: LocalRuntime, subscribers: int) -> dict[str, Any]:
    definition = _unlisted_world()
    world = definition.world_id
    opened = time.perf_counter()
    clients: list[Subscriber] = []
    for batch in range(0, subscribers, 50):
        clients += await asyncio.gather(
            *(
                Subscriber.open(runtime.gateway.gateway.ws_url, local_token(f"p-{i}", world))
                for i in range(batch, min(batch + 50, subscribers))
            )
        )
    open_s = time.perf_counter() - opened
    epoch = definition.world.clock.epoch
    wall = {"at": epoch}
    deps = TickDeps(store=wiring.world_state(), events=wiring.events(), time=lambda: wall["at"])
    await asyncio.to_thread(tick_world, deps, world, "baseline")
    wall["at"], changed = _next_change(definition, epoch)
    started = time.monotonic()
    await asyncio.to_thread(tick_world, deps, world, "tick")
    # weather frames only: each changed region's narration (world-narrator) follows on its own
    await wait_until(lambda: all(len(c.kinds("weather")) >= changed for c in clients), DELIVERY_S, "fan-out")
    weather = [[(at, f) for at, f in c.updates if f["data"]["kind"] == "weather"] for c in clients]
    arrivals = sorted(at - started for frames in weather for at, _ in frames)
    duplicates = sum(len(frames) - len({f["data"]["event_id"] for _, f in frames}) for frames in weather)
    for client in clients:
        await client.close()
    return {
        "subscribers": subscribers,
        "changed_regions": changed,
        "frames": len(arrivals),
        "duplicates": duplicates,
        "connect_and_subscribe_s": round(open_s, 1),
        "tick_to_first_frame_ms": round(arrivals[0] * 1000, 1),
        "tick_to_median_frame_ms": round(statistics.median(arrivals) * 1000, 1),
        "tick_to_last_frame_ms": round(arrivals[-1] * 1000, 1),
    }


def turn_read(runtime: LocalRuntime, counter: CallCounter, samples: int = 50) -> dict[str, Any]:
    """What the world adds to an NPC turn: `read_world_now` (one Query of the world's state)."""
    store = wiring.world_state()
    read_world_now(store, "demo", "emberfall")
    with counter.counting() as calls:
        read_world_now(store, "demo", "emberfall")
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        read_world_now(store, "demo", "emberfall")
        times.append((time.perf_counter() - started) * 1000)
    return {"aws_calls": dict(calls), "ms_median_on_moto": round(statistics.median(times), 2)}


def fact_write(runtime: LocalRuntime, counter: CallCounter) -> dict[str, Any]:
    """A fact change over HTTP: its AWS calls (the gateway's authorizer and handler run in process)."""
    token = local_token("gs-bench", "demo", (Role.GAME_SERVER,))
    url = f"{runtime.gateway.gateway.url}/worlds/demo/facts/bench-{uuid.uuid4().hex[:6]}"
    with counter.counting() as calls:
        status, _ = http_json(url, token, "PUT", {"value": 1}, {"If-Match": "0"})
    assert status == 200
    return {"aws_calls": dict(calls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, nargs="*", default=[50, 100, 1000])
    args = parser.parse_args()
    report: dict[str, Any] = {"machine": machine(), "simulation_30_game_days": simulate()}
    counter = CallCounter()
    runtime = LocalRuntime(RuntimeOptions(port=free_port(), seed_lore=False))
    runtime.start()
    try:
        report["turn_world_read"] = turn_read(runtime, counter)
        report["fact_write_http"] = fact_write(runtime, counter)
        report["fan_out"] = [asyncio.run(fan_out(runtime, n)) for n in args.subscribers]
    finally:
        runtime.stop()
    print(json.dumps(report, indent=2))
    write_report("world", report)


if __name__ == "__main__":
    main()
