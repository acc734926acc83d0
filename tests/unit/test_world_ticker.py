"""The world's schedule announces weather changes once: a 30-game-day simulation on an injected
clock (ticks every real minute, each one delivered twice), a writer that dies before the bus, and
the handler as Scheduler invokes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from aicore.events import EventDetail, PublishFailed
from aicore.world.clock import SECONDS_PER_HOUR, ClockState
from aicore.world.definition import WorldDefinition
from aicore.world.events import WeatherChanged
from aicore.world.ticker import TickDeps, tick
from aicore.world.weather import region_weather
from tests.events import load_event
from tests.fakes import FakePublisher
from tests.handlers import invoke
from tests.world_fakes import FakeWorldState, demo_content

DEFINITION = WorldDefinition.of(demo_content(), 1)
EPOCH = demo_content().world.clock.epoch
SPEED = demo_content().world.clock.speed


class Wall:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _world() -> FakeWorldState:
    state = FakeWorldState()
    state.put_definition(DEFINITION)
    state.registry.add("demo")
    return state


def _announced(publisher: FakePublisher) -> list[WeatherChanged]:
    return [d for _, _, d in publisher.published if isinstance(d, WeatherChanged)]


def _expected_changes(hours: list[int]) -> list[tuple[str, int, str, str]]:
    """Each region's condition changes between consecutive visited hours, computed directly."""
    expected = []
    for region in DEFINITION.regions:
        model = region_weather(DEFINITION, region)
        conditions = [model.condition_at(h) for h in hours]
        expected += [
            (region.region_id, hour, before.value, after.value)
            for hour, before, after in zip(hours[1:], conditions, conditions[1:], strict=False)
            if before != after
        ]
    return sorted(expected)


def test_thirty_game_days_announce_each_change_once() -> None:
    # Given the demo world (a game day every 2 real hours) and a schedule every real minute
    state, publisher = _world(), FakePublisher()
    wall = Wall(EPOCH)
    deps = TickDeps(store=state, events=publisher, time=wall)
    real_minutes = int(30 * 24 * SECONDS_PER_HOUR / SPEED / 60)
    visited = []
    # When every tick is delivered twice (Scheduler may), for 30 game days
    for minute in range(real_minutes):
        wall.at = EPOCH + timedelta(minutes=minute)
        tick(deps, f"tick-{minute}")
        tick(deps, f"tick-{minute}-again")
        visited.append(
            int(ClockState.starting(DEFINITION.world.clock).game_seconds(wall.at.timestamp())) // 3600
        )
    # Then the events are exactly the weather's changes between visited hours, once each
    hours = sorted(set(visited))
    events = _announced(publisher)
    assert sorted((e.region, e.hour, e.previous_condition.value, e.condition.value) for e in events) == (
        _expected_changes(hours)
    )
    assert len({e.event_id for e in events}) == len(events)
    # And the weather moved in 30 days, through every season, and nothing waits in the outbox
    assert len(events) > 4 * len(DEFINITION.regions)
    assert {e.season for e in events} == set(DEFINITION.world.calendar.seasons)
    assert state.outbox("demo") == []
    assert state.state_versions["demo"] == len(events)
    assert hours[-1] - hours[0] >= 30 * 24 - 1


def test_a_paused_world_has_no_weather_news() -> None:
    state, publisher = _world(), FakePublisher()
    wall = Wall(EPOCH + timedelta(hours=5))
    state.clocks["demo"] = ClockState.starting(DEFINITION.world.clock).changed(
        wall.at.timestamp(), paused=True
    )
    deps = TickDeps(store=state, events=publisher, time=wall)
    for _ in range(600):
        wall.at += timedelta(minutes=1)
        tick(deps, "t")
    assert publisher.published == []
    assert set(state.weather["demo"]) == set(DEFINITION.region_ids)  # looked at once: recorded


@dataclass
class FlakyPublisher:
    """Loses the bus `failures` times (the writer dies between its transaction and the bus)."""

    failures: int
    published: list[tuple[str, str, EventDetail]] = field(default_factory=list)

    def publish(self, source: str, detail_type: str, detail: EventDetail) -> None:
        if self.failures:
            self.failures -= 1
            raise PublishFailed("the bus is unreachable")
        self.published.append((source, detail_type, detail))


def test_an_event_its_writer_could_not_send_is_sent_later_once() -> None:
    # Given ticks where the bus fails the first time an announcement is sent
    state = _world()
    publisher = FlakyPublisher(failures=1)
    wall = Wall(EPOCH)
    deps = TickDeps(store=state, events=publisher, time=wall, relay_after_s=120)
    waited = 0
    for minute in range(24 * 60):
        wall.at = EPOCH + timedelta(minutes=minute)
        report = tick(deps, "t")
        assert not report.failed  # the change is recorded either way
        if state.outbox("demo"):
            waited += 1  # its event waits for a tick, two real minutes on
    # Then the waiting event went out with a later tick, and every change was announced once
    assert waited == 2
    events = [d for _, _, d in publisher.published if isinstance(d, WeatherChanged)]
    assert len({e.event_id for e in events}) == len(events)
    assert state.outbox("demo") == []
    assert state.state_versions["demo"] == len(events)


def test_the_handler_runs_a_tick_as_scheduler_invokes_it() -> None:
    state, publisher = _world(), FakePublisher()
    deps = TickDeps(store=state, events=publisher, time=Wall(datetime(2026, 3, 1, tzinfo=UTC)))
    answer = invoke("world-keeper", load_event("scheduler_tick"), deps=deps)
    assert answer == {"worlds": 1, "announced": [], "relayed": 0, "failed": []}
    # A world whose state cannot be read fails the invocation (it alarms, Scheduler retries)
    state.registry.add("broken")
    state.definitions["broken"] = DEFINITION.model_copy(
        update={"regions": (DEFINITION.regions[0].model_copy(update={"climate": "nowhere"}),)}
    )
    with pytest.raises(RuntimeError, match="1 of 2 worlds failed: broken"):
        invoke("world-keeper", load_event("scheduler_tick"), deps=deps)
