"""A story arc's progress (`STATE#ARC#<arc>`, read with the rest of a world's state) and whether a
beat's condition holds: over the facts now, the event being told, and the world's clock now."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Protocol

from pydantic import BaseModel, Field, JsonValue

from aicore.world.clock import ClockReading
from aicore.world.content import ArcSpec, BeatCondition, BeatSpec, EventTrigger, FactCondition, FactSet
from aicore.world.events import WeatherChanged, WorldEvent, WorldFactChanged

MAX_TRIGGERS_KEPT = 20  # what an arc remembers of what set it off: a redelivery finds itself here


class ReachedBeat(BaseModel):
    """A beat that happened: what was told, by whom, when in the game (and in real time)."""

    beat_id: str
    narration: str
    tier: str  # gold | silver | scripted
    game_time: int
    day: int
    hour: int
    minute: int
    part_of_day: str
    season: str
    reached_at: str  # real time
    trigger_id: str


class ArcProgress(BaseModel):
    """Where an arc stands. `version` guards every write (a beat is reached once, whoever races);
    `pending` are the last beat's fact changes not yet made (a director that died leaves them);
    `triggers` the ids of the last events that advanced it."""

    arc_id: str
    version: int = 0
    reached: list[ReachedBeat] = []
    pending: list[FactSet] = []
    pending_beat: str | None = None
    triggers: list[str] = Field(default_factory=list)

    def next_beat(self, arc: ArcSpec) -> BeatSpec | None:
        return arc.beats[len(self.reached)] if len(self.reached) < len(arc.beats) else None

    def advanced(self, reached: ReachedBeat, sets: tuple[FactSet, ...]) -> ArcProgress:
        return ArcProgress(
            arc_id=self.arc_id,
            version=self.version + 1,
            reached=[*self.reached, reached],
            pending=list(sets),
            pending_beat=reached.beat_id if sets else None,
            triggers=[*self.triggers, reached.trigger_id][-MAX_TRIGGERS_KEPT:],
        )

    def settled(self) -> ArcProgress:
        """The progress once the pending fact changes are made."""
        return self.model_copy(update={"version": self.version + 1, "pending": [], "pending_beat": None})


class FactNow(Protocol):
    """A fact as a condition reads it (`aicore.world.state.Fact`)."""

    @property
    def value(self) -> JsonValue: ...
    @property
    def region(self) -> str | None: ...


def holds(
    condition: BeatCondition, facts: Mapping[str, FactNow], clock: ClockReading, event: WorldEvent | None
) -> bool:
    """Everything the condition gives holds: each fact, the event (it is the one being told), the time."""
    if condition.event is not None and not _is_event(condition.event, event):
        return False
    if condition.time is not None:
        time = condition.time
        if time.day_at_least is not None and clock.day < time.day_at_least:
            return False
        if time.parts_of_day and clock.part_of_day not in time.parts_of_day:
            return False
        if time.seasons and clock.season not in time.seasons:
            return False
    return all(_fact_holds(f, facts.get(f.key)) for f in condition.facts)


def _is_event(trigger: EventTrigger, event: WorldEvent | None) -> bool:
    if trigger.weather is not None:
        wanted = trigger.weather
        return (
            isinstance(event, WeatherChanged)
            and event.condition == wanted.condition
            and wanted.region in (None, event.region)
        )
    assert trigger.fact_changed is not None
    return (
        isinstance(event, WorldFactChanged)
        and event.key == trigger.fact_changed.key
        and trigger.fact_changed.region in (None, event.region)
    )


def _fact_holds(condition: FactCondition, fact: FactNow | None) -> bool:
    if fact is None or condition.region not in (None, fact.region):
        return False
    if condition.at_least is not None:
        value = fact.value
        return isinstance(value, int | float) and not isinstance(value, bool) and value >= condition.at_least
    return _canonical(fact.value) == _canonical(condition.equals)  # JSON equality: true is not 1


def _canonical(value: JsonValue) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
