"""A world's live state: its clock (studio operations), the weather last announced per region,
its facts, and the store that holds them (one Query reads all of a world's state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, JsonValue

from aicore.auth import Caller, Role
from aicore.clock import Clock, now
from aicore.errors import Conflict, Forbidden, NotFound
from aicore.world.arcs import ArcProgress
from aicore.world.clock import SECONDS_PER_HOUR, ClockChange, ClockReading, ClockState, read_clock
from aicore.world.content import WeatherCondition
from aicore.world.definition import WorldDefinition
from aicore.world.events import OutboxEntry, OutboxStore
from aicore.world.weather import Weather, region_weather

STUDIO_ROLES = (Role.STUDIO, Role.ADMIN)
CLOCK_ATTEMPTS = 3  # a clock changed by someone else in between is read again, then tried again


class WeatherRecord(BaseModel):
    """The weather last announced for a region: the schedule compares the weather with it."""

    region: str
    hour: int  # the game hour it was announced for
    condition: WeatherCondition


class Fact(BaseModel):
    """A piece of world state: a JSON value under a key, at a version, of the world or one region."""

    key: str
    value: JsonValue
    version: int
    region: str | None = None
    updated_at: str
    updated_by: str


@dataclass
class StoredState:
    """Everything stored of a world's state, as one Query reads it."""

    definition: WorldDefinition | None
    clock: ClockState | None = None
    version: int = 0
    facts: dict[str, Fact] = field(default_factory=dict)
    weather: dict[str, WeatherRecord] = field(default_factory=dict)
    arcs: dict[str, ArcProgress] = field(default_factory=dict)  # the storyteller's progress per arc


class WorldStateStore(OutboxStore, Protocol):
    def definition(self, world_id: str) -> WorldDefinition | None: ...
    def state(self, world_id: str) -> StoredState:
        """The world's definition, clock, state version, facts and announced weather, in one read."""
        ...

    def worlds(self) -> list[str]:
        """Every world pushed to this environment."""
        ...

    def record_weather(
        self, world_id: str, record: WeatherRecord, expected_hour: int | None, entry: OutboxEntry | None
    ) -> bool:
        """Store the region's announced weather if its record is still at `expected_hour` (None: no
        record yet), with the event of the change (`entry`, which also moves the state version).
        False: another tick got there first."""
        ...

    def clock(self, world_id: str) -> ClockState | None:
        """The clock as the studio last set it (None: never changed, as the definition starts it)."""
        ...

    def put_clock(self, world_id: str, clock: ClockState, expected_version: int) -> bool:
        """Store the clock if the stored one is still at `expected_version` (0: none); the world's
        state version moves with it. False: someone changed it first."""
        ...


@dataclass
class StateDeps:
    store: WorldStateStore
    time: Clock = now


def require_definition(store: WorldStateStore, world_id: str) -> WorldDefinition:
    definition = store.definition(world_id)
    if definition is None:
        raise NotFound(
            f"There is no world '{world_id}' here: push its content first (aicore world push).",
            {"world_id": world_id},
        )
    return definition


def current_clock(store: WorldStateStore, definition: WorldDefinition) -> ClockState:
    return store.clock(definition.world_id) or ClockState.starting(definition.world.clock)


def change_clock(deps: StateDeps, caller: Caller, world_id: str, change: ClockChange) -> ClockReading:
    """Pause, resume or change the speed: game time continues from where it stands now."""
    if not caller.has_any(*STUDIO_ROLES):
        raise Forbidden("Only the world's studio (or an admin) sets its clock.")
    caller.require_world(world_id)
    definition = require_definition(deps.store, world_id)
    for _ in range(CLOCK_ATTEMPTS):
        current = current_clock(deps.store, definition)
        real = deps.time().timestamp()
        changed = current.changed(real, paused=change.paused, speed=change.speed, by=caller.subject)
        if deps.store.put_clock(world_id, changed, current.version):
            return read_clock(definition.world.calendar, changed, real)
    raise Conflict("The clock kept changing while you set it: read the state and try again.")


class FactView(BaseModel):
    value: JsonValue
    version: int
    region: str | None = None


class WorldStateView(BaseModel):
    """`GET /worlds/{world}/state`: the clock now, each region's weather now, the facts, the version."""

    world_id: str
    clock: ClockReading
    weather: dict[str, Weather]
    facts: dict[str, FactView]
    version: int  # the world's state version: moves with every fact, weather and clock change
    content_version: int


def view_state(stored: StoredState, definition: WorldDefinition, real: float) -> WorldStateView:
    clock = stored.clock or ClockState.starting(definition.world.clock)
    reading = read_clock(definition.world.calendar, clock, real)
    hour = reading.game_time // SECONDS_PER_HOUR
    return WorldStateView(
        world_id=definition.world_id,
        clock=reading,
        weather={r.region_id: region_weather(definition, r).at(hour) for r in definition.regions},
        facts={
            k: FactView(value=f.value, version=f.version, region=f.region)
            for k, f in sorted(stored.facts.items())
        },
        version=stored.version,
        content_version=definition.content_version,
    )


def read_state(deps: StateDeps, caller: Caller, world_id: str) -> WorldStateView:
    """Anyone of the world (players too) reads its state."""
    caller.require_world(world_id)
    stored = deps.store.state(world_id)
    if stored.definition is None:
        raise NotFound(
            f"There is no world '{world_id}' here: push its content first (aicore world push).",
            {"world_id": world_id},
        )
    return view_state(stored, stored.definition, deps.time().timestamp())
