"""The world's schedule (EventBridge Scheduler; locally the schedule ticker): nothing ticks in a
process, a schedule visits every world now and then.

At each visit it computes each region's weather for the current game hour and compares it with
what was announced last: a changed condition is recorded and a `Weather Changed` event sent, in
one conditional transaction with its outbox entry, so a duplicate or redelivered tick (or two at
once) announces a change once. It also sends outbox entries that writers left behind.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from aicore.clock import Clock, now
from aicore.events import EventPublisher
from aicore.observability import logger
from aicore.topology import WEATHER_CHANGED
from aicore.world.clock import SECONDS_PER_HOUR, ClockState, read_clock
from aicore.world.events import OutboxEntry, WeatherChanged, relay, send_or_leave
from aicore.world.state import WeatherRecord, WorldStateStore
from aicore.world.weather import region_weather

# Outbox entries older than this were left by a writer that died (our writers run 30 s at most).
RELAY_AFTER_S = 120.0


@dataclass
class TickDeps:
    store: WorldStateStore
    events: EventPublisher
    time: Clock = now
    relay_after_s: float = RELAY_AFTER_S


class TickReport(BaseModel):
    worlds: int
    announced: list[str]  # event ids of the weather changes this visit announced
    relayed: int
    failed: list[str]  # worlds whose visit failed (the next tick tries again)


def tick(deps: TickDeps, correlation_id: str) -> TickReport:
    announced: list[str] = []
    relayed = 0
    failed: list[str] = []
    worlds = deps.store.worlds()
    for world_id in worlds:
        try:
            announced += tick_world(deps, world_id, correlation_id)
            relayed += relay(deps.events, deps.store, world_id, deps.time().timestamp(), deps.relay_after_s)
        except Exception:
            logger.exception("World tick failed", extra={"world_id": world_id})
            failed.append(world_id)
    return TickReport(worlds=len(worlds), announced=announced, relayed=relayed, failed=failed)


def tick_world(deps: TickDeps, world_id: str, correlation_id: str) -> list[str]:
    """Announce each region whose weather condition changed since it was last announced."""
    stored = deps.store.state(world_id)
    definition = stored.definition
    if definition is None:
        return []
    clock = stored.clock or ClockState.starting(definition.world.clock)
    real = deps.time().timestamp()
    reading = read_clock(definition.world.calendar, clock, real)
    hour = reading.game_time // SECONDS_PER_HOUR
    announced = []
    for region in definition.regions:
        weather = region_weather(definition, region).at(hour)
        last = stored.weather.get(region.region_id)
        if last is not None and (last.hour >= hour or last.condition == weather.condition):
            continue  # nothing new, or a tick behind one that already saw this hour
        record = WeatherRecord(region=region.region_id, hour=hour, condition=weather.condition)
        entry = None
        if last is not None:  # the first look at a region records its weather: nothing changed yet
            event = WeatherChanged(
                world_id=world_id,
                correlation_id=correlation_id,
                event_id=f"weather:{region.region_id}:{hour}",
                region=region.region_id,
                hour=hour,
                condition=weather.condition,
                previous_condition=last.condition,
                temperature_c=weather.temperature_c,
                wind_kph=weather.wind_kph,
                season=reading.season,
                part_of_day=reading.part_of_day,
            )
            entry = OutboxEntry.of(WEATHER_CHANGED, event, real)
        if not deps.store.record_weather(world_id, record, last.hour if last else None, entry):
            continue  # another tick recorded this region first, and announced it
        if entry is not None and send_or_leave(deps.events, deps.store, world_id, entry):
            announced.append(entry.event_id)
    return announced
