"""The world as an NPC in one region finds it now: the time, the weather there, the facts that
concern it (the region's and the whole world's). For the NPC turn's prompt, within a budget.

`read_world_now` is one Query (the world's `STATE#` items); a turn that reads the state itself
in its own round trip calls `world_now` on what it read.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, JsonValue

from aicore.clock import Clock, now
from aicore.world.clock import SECONDS_PER_HOUR, ClockReading, ClockState, read_clock
from aicore.world.state import FactView, StoredState, WorldStateStore
from aicore.world.weather import Weather, region_weather

DEFAULT_PROMPT_CHARS = 600  # about 150 tokens of a turn's prompt
MAX_VALUE_CHARS = 80


class WorldContext(BaseModel):
    """The world part of a turn's debug context: where the NPC is and the lines its prompt got."""

    region_id: str | None
    region_name: str | None
    state_version: int  # the world's state version the lines were read at
    lines: list[str]


class WorldNow(BaseModel):
    world_id: str
    region_id: str | None
    region_name: str | None
    clock: ClockReading
    weather: Weather | None  # None: the NPC is in no region (or one the world no longer has)
    facts: dict[str, FactView]  # the region's first, then the world's; newest first within each
    state_version: int

    def prompt_lines(self, max_chars: int = DEFAULT_PROMPT_CHARS) -> list[str]:
        """What the NPC knows of the world now, in a few sentences of at most `max_chars` in all."""
        c = self.clock
        lines = [
            f"It is {c.part_of_day} ({c.hour:02d}:{c.minute:02d}) on day {c.day_of_season} of {c.season}."
        ]
        if self.weather is not None and self.region_name:
            w = self.weather
            lines.append(
                f"In {self.region_name} the weather is {w.condition.value}, {w.temperature_c:g} °C, "
                f"wind {w.wind_kph:g} km/h."
            )
        facts = [f"{key.replace('_', ' ')}: {_short(fact.value)}" for key, fact in self.facts.items()]
        kept: list[str] = []
        used = sum(len(line) + 1 for line in lines) + len("What is true now: .")
        for fact in facts:
            if used + len(fact) + 2 > max_chars:
                break
            kept.append(fact)
            used += len(fact) + 2
        if kept:
            lines.append(f"What is true now: {'; '.join(kept)}.")
        budget, fitted = max_chars, []
        for line in lines:
            if len(line) > budget:
                break
            fitted.append(line)
            budget -= len(line) + 1
        return fitted

    def context(self, lines: list[str]) -> WorldContext:
        return WorldContext(
            region_id=self.region_id,
            region_name=self.region_name,
            state_version=self.state_version,
            lines=lines,
        )


def world_now(stored: StoredState, region_id: str | None, real: float) -> WorldNow | None:
    """The world as seen from `region_id` at real time `real`; None when the world has no definition."""
    definition = stored.definition
    if definition is None:
        return None
    clock = stored.clock or ClockState.starting(definition.world.clock)
    reading = read_clock(definition.world.calendar, clock, real)
    region = definition.region(region_id) if region_id else None
    weather = region_weather(definition, region).at(reading.game_time // SECONDS_PER_HOUR) if region else None
    concerning = [f for f in stored.facts.values() if f.region is None or f.region == region_id]
    concerning.sort(key=lambda f: (f.region is None, -f.version, f.key))
    return WorldNow(
        world_id=definition.world_id,
        region_id=region.region_id if region else None,
        region_name=region.name if region else None,
        clock=reading,
        weather=weather,
        facts={f.key: FactView(value=f.value, version=f.version, region=f.region) for f in concerning},
        state_version=stored.version,
    )


def read_world_now(
    store: WorldStateStore, world_id: str, region_id: str | None, time: Clock = now
) -> WorldNow | None:
    """`world_now` from the store: one round trip."""
    return world_now(store.state(world_id), region_id, time().timestamp())


def _short(value: JsonValue) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
