"""A world as content: what a studio writes (one folder per world, see `worlds/demo/`) and pushes.

These models are the schema of those files and of the body of `POST /worlds/{world}/content`.
They are strict (an unknown field is an error: a typo never silently does nothing). References
between items (an NPC's region and faction, a region's climate, a climate's seasons) are checked
by `content_problems`, so the file loader can say which file holds the mistake.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum
from itertools import pairwise
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    field_validator,
    model_validator,
)

from aicore.inputs import Identifier
from aicore.knowledge.models import NewDocument
from aicore.world.models import Npc

Name = Annotated[str, Field(min_length=1, max_length=100)]
Description = Annotated[str, Field(max_length=2000)]
MAX_REGIONS = 100
MAX_FACTIONS = 50
MAX_NPCS = 500
MAX_LORE_FACTS = 500
MAX_DOCUMENTS = 200
MAX_ARCS = 50
MAX_BEATS = 50  # per arc
MAX_BEAT_FACTS = 10  # fact conditions of a beat
MAX_BEAT_CHANGES = 5  # fact changes a beat makes (each one a versioned write and an event)
MAX_QUESTS = 200
MAX_OBJECTIVES = 10


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WeatherCondition(StrEnum):
    CLEAR = "clear"
    CLOUDY = "cloudy"
    RAIN = "rain"
    STORM = "storm"
    FOG = "fog"
    SNOW = "snow"


class PartOfDay(_Strict):
    name: Name
    starts_at_hour: int = Field(ge=0, le=23)


DEFAULT_PARTS_OF_DAY = (
    PartOfDay(name="night", starts_at_hour=0),
    PartOfDay(name="dawn", starts_at_hour=5),
    PartOfDay(name="morning", starts_at_hour=7),
    PartOfDay(name="afternoon", starts_at_hour=12),
    PartOfDay(name="evening", starts_at_hour=18),
    PartOfDay(name="night", starts_at_hour=22),
)


class CalendarSpec(_Strict):
    """Days of 24 game hours; seasons of `days_per_season` days, in order, then the year turns."""

    days_per_season: int = Field(7, ge=1, le=3650)
    seasons: tuple[Identifier, ...] = Field(
        ("spring", "summer", "autumn", "winter"), min_length=1, max_length=12
    )
    parts_of_day: tuple[PartOfDay, ...] = Field(DEFAULT_PARTS_OF_DAY, min_length=1, max_length=24)

    @field_validator("seasons")
    @classmethod
    def _distinct(cls, seasons: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(seasons)) != len(seasons):
            raise ValueError("each season is named once")
        return seasons

    @field_validator("parts_of_day")
    @classmethod
    def _in_order(cls, parts: tuple[PartOfDay, ...]) -> tuple[PartOfDay, ...]:
        hours = [p.starts_at_hour for p in parts]
        if hours[0] != 0 or any(a >= b for a, b in pairwise(hours)):
            raise ValueError("the first part of the day starts at hour 0, each next one later")
        return parts

    @property
    def days_per_year(self) -> int:
        return self.days_per_season * len(self.seasons)


class ClockSpec(_Strict):
    """Where the world's clock starts: at the real moment `epoch` it is `start_hour` of `start_day`;
    from then on `speed` game seconds pass per real second (12: a game day in two real hours)."""

    epoch: AwareDatetime
    speed: float = Field(12.0, gt=0, le=1000)
    start_day: int = Field(1, ge=1, le=1_000_000)
    start_hour: int = Field(8, ge=0, le=23)


class SeasonClimate(_Strict):
    """A region's weather in one season: the conditions it drifts to (relative weights) and its
    temperature (the day's mean, and how far afternoons and nights stray from it)."""

    weather: dict[WeatherCondition, Annotated[float, Field(ge=0, le=1000)]] = Field(min_length=1)
    temperature_c: float = Field(ge=-60, le=60)
    daily_swing_c: float = Field(5.0, ge=0, le=30)

    @field_validator("weather")
    @classmethod
    def _some_weight(cls, weights: dict[WeatherCondition, float]) -> dict[WeatherCondition, float]:
        if sum(weights.values()) <= 0:
            raise ValueError("at least one condition needs a weight above 0")
        return weights


class ClimateSpec(_Strict):
    """Weather by season; `persistence`: the chance a condition lasts another game hour (defaults in
    `aicore.world.weather`); `wind_factor` scales the wind (1: a sheltered valley's)."""

    seasons: dict[Identifier, SeasonClimate] = Field(min_length=1)
    persistence: dict[WeatherCondition, Annotated[float, Field(ge=0, le=0.99)]] = {}
    wind_factor: float = Field(1.0, ge=0, le=5)


class WorldManifest(_Strict):
    """`world.yaml`: the world itself, its calendar, its clock and its climates."""

    world_id: Identifier
    name: Name
    description: Description = ""
    calendar: CalendarSpec = CalendarSpec()
    clock: ClockSpec
    climates: dict[Identifier, ClimateSpec] = Field(min_length=1)
    # Weather is a pure function of (seed, world, region, game hour): change the seed, change the weather.
    weather_seed: Annotated[str, Field(min_length=1, max_length=64)] = "1"


class RegionSpec(_Strict):
    region_id: Identifier
    name: Name
    description: Description = ""
    climate: Identifier
    neighbours: tuple[Identifier, ...] = ()


class Language(_Strict):
    """A faction's constructed language (the language system builds its lexicon from `seed`)."""

    name: Name
    description: Description = ""
    seed: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class FactionSpec(_Strict):
    faction_id: Identifier
    name: Name
    description: Description = ""
    language: Language | None = None


class NpcSpec(Npc):
    """An NPC's file: its character sheet, with its place (`region`) and `faction` by id. The world
    id comes from the world it is pushed to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    world_id: str = ""
    npc_id: Identifier
    region: Identifier | None = None
    faction: Identifier | None = None

    def in_world(self, world_id: str) -> Npc:
        return Npc.model_validate({**self.model_dump(), "world_id": world_id})


class LoreFactSpec(_Strict):
    """A short fact every NPC of the world knows (the turn's prompt takes a few)."""

    fact_id: Identifier
    text: str = Field(min_length=1, max_length=2000)


class LoreDocumentSpec(NewDocument):
    """A lore document (`lore/<key>.md`): indexed by the knowledge base, tags limit who may know it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: Identifier


class FactCondition(_Strict):
    """A fact that must hold: `equals` a value, or a number `at_least` a value; with `region`, the
    fact must concern that region."""

    key: Identifier
    equals: JsonValue = None
    at_least: float | None = None
    region: Identifier | None = None

    @model_validator(mode="after")
    def _one_test(self) -> FactCondition:
        # (a dumped condition carries both fields, one of them null: it reads back the same)
        equals = "equals" in self.model_fields_set and (self.equals is not None or self.at_least is None)
        if equals == (self.at_least is not None):
            raise ValueError("give exactly one of 'equals' (a value) or 'at_least' (a number)")
        return self


class WeatherTrigger(_Strict):
    """A `Weather Changed` event to `condition` (in `region`, or in any region)."""

    condition: WeatherCondition
    region: Identifier | None = None


class FactTrigger(_Strict):
    """A `World Fact Changed` event of `key` (of `region`, or of any)."""

    key: Identifier
    region: Identifier | None = None


class EventTrigger(_Strict):
    """The event a beat waits for: exactly one of `weather` or `fact_changed`."""

    weather: WeatherTrigger | None = None
    fact_changed: FactTrigger | None = None

    @model_validator(mode="after")
    def _one(self) -> EventTrigger:
        if (self.weather is None) == (self.fact_changed is None):
            raise ValueError("give exactly one of 'weather' or 'fact_changed'")
        return self

    @property
    def region(self) -> str | None:
        trigger = self.weather or self.fact_changed
        return trigger.region if trigger else None


class TimeCondition(_Strict):
    """When in the world's calendar: from a game day on, in some parts of the day, in some seasons."""

    day_at_least: int | None = Field(None, ge=1)
    parts_of_day: tuple[Name, ...] = Field((), max_length=24)
    seasons: tuple[Identifier, ...] = Field((), max_length=12)


class BeatCondition(_Strict):
    """Everything given must hold: the facts now, the event being told, the time now. An empty
    condition holds at once (at the director's next look)."""

    facts: tuple[FactCondition, ...] = Field((), max_length=MAX_BEAT_FACTS)
    event: EventTrigger | None = None
    time: TimeCondition | None = None


class FactSet(_Strict):
    """A fact a beat changes (through the facts' versioned writes: one `World Fact Changed` each)."""

    key: Identifier
    value: JsonValue
    region: Identifier | None = None


class BeatSpec(_Strict):
    """One step of an arc: when it happens, what is told (`narration`: the scripted line, used when
    no model answers; `prompt`: what to ask the model to write), what it changes."""

    beat_id: Identifier
    title: Name | None = None
    region: Identifier | None = None  # where it happens: that region's subscribers are told
    when: BeatCondition = BeatCondition()
    narration: str = Field(min_length=1, max_length=1000)
    prompt: str | None = Field(None, min_length=1, max_length=1000)
    sets: tuple[FactSet, ...] = Field((), max_length=MAX_BEAT_CHANGES)


class ArcSpec(_Strict):
    """`arcs/<id>.yaml`: a story arc, its beats in the order they happen."""

    arc_id: Identifier
    title: Name
    description: Description = ""
    beats: tuple[BeatSpec, ...] = Field(min_length=1, max_length=MAX_BEATS)

    @field_validator("beats")
    @classmethod
    def _beats_once(cls, beats: tuple[BeatSpec, ...]) -> tuple[BeatSpec, ...]:
        ids = [b.beat_id for b in beats]
        if len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"each beat id is used once ({', '.join(twice)} more than once)")
        return beats


class ObjectiveKind(StrEnum):
    """What a game server reports (`POST /worlds/{world}/players/{player}/objectives`): the player
    visited a region, talked to an NPC, delivered or collected an item, defeated a creature."""

    VISIT = "visit"
    TALK = "talk"
    DELIVER = "deliver"
    COLLECT = "collect"
    DEFEAT = "defeat"


class ObjectiveSpec(_Strict):
    """One thing to do: `count` reports of `kind` on `target` (a region, an NPC, an item or a creature
    id as the game server names it)."""

    objective_id: Identifier
    kind: ObjectiveKind
    target: Identifier
    count: int = Field(1, ge=1, le=100)
    description: str = Field(min_length=1, max_length=200)


class RelationshipDelta(_Strict):
    """How the quest's giver feels about the player once it is done (the mind's scale, -100..100)."""

    trust: int = Field(0, ge=-25, le=25)
    affinity: int = Field(0, ge=-25, le=25)


class RewardSpec(_Strict):
    """What completing a quest grants: items (id -> count), currency, world facts set, and the giver's
    relationship with the player moved."""

    items: dict[Identifier, Annotated[int, Field(ge=1, le=1000)]] = Field(default_factory=dict, max_length=10)
    currency: int = Field(0, ge=0, le=1_000_000)
    facts: dict[Identifier, JsonValue] = Field(default_factory=dict, max_length=10)
    relationship: RelationshipDelta = RelationshipDelta()


class QuestTemplateSpec(_Strict):
    """`quests/<id>.yaml`: a quest an NPC (`giver`) offers. `hook` is how the giver brings it up (the
    turn's prompt has it); the generator may rewrite the words, never the rewards."""

    template_id: Identifier
    giver: Identifier
    title: Name
    summary: Description = Field(min_length=1, max_length=500)
    hook: str = Field(min_length=1, max_length=300)
    objectives: tuple[ObjectiveSpec, ...] = Field(min_length=1, max_length=MAX_OBJECTIVES)
    rewards: RewardSpec = RewardSpec()
    expires_after_days: int = Field(28, ge=1, le=365)

    @field_validator("objectives")
    @classmethod
    def _objectives_once(cls, objectives: tuple[ObjectiveSpec, ...]) -> tuple[ObjectiveSpec, ...]:
        ids = [o.objective_id for o in objectives]
        if len(set(ids)) != len(ids):
            raise ValueError("each objective id is used once")
        return objectives


class WorldContent(_Strict):
    world: WorldManifest
    regions: tuple[RegionSpec, ...] = Field(min_length=1, max_length=MAX_REGIONS)
    factions: tuple[FactionSpec, ...] = Field((), max_length=MAX_FACTIONS)
    npcs: tuple[NpcSpec, ...] = Field((), max_length=MAX_NPCS)
    lore: tuple[LoreFactSpec, ...] = Field((), max_length=MAX_LORE_FACTS)
    documents: tuple[LoreDocumentSpec, ...] = Field((), max_length=MAX_DOCUMENTS)
    arcs: tuple[ArcSpec, ...] = Field((), max_length=MAX_ARCS)
    quests: tuple[QuestTemplateSpec, ...] = Field((), max_length=MAX_QUESTS)

    @model_validator(mode="after")
    def _ids_once(self) -> WorldContent:
        for kind, ids in self.ids().items():
            if len(set(ids)) != len(ids):
                twice = sorted({i for i in ids if ids.count(i) > 1})
                raise ValueError(f"{kind}: each id is used once ({', '.join(twice)} more than once)")
        return self

    def ids(self) -> dict[str, list[str]]:
        return {
            "regions": [r.region_id for r in self.regions],
            "factions": [f.faction_id for f in self.factions],
            "npcs": [n.npc_id for n in self.npcs],
            "lore": [f.fact_id for f in self.lore],
            "documents": [d.key for d in self.documents],
            "arcs": [a.arc_id for a in self.arcs],
            "quests": [q.template_id for q in self.quests],
        }

    def region(self, region_id: str) -> RegionSpec | None:
        return next((r for r in self.regions if r.region_id == region_id), None)


class Problem(BaseModel):
    """One mistake in a world's content: which item (`kind`, `item_id`), which field, what is wrong."""

    kind: str  # world | regions | factions | npcs | lore | documents | arcs | quests
    item_id: str
    field: str
    problem: str

    @property
    def path(self) -> str:
        return f"{self.kind}.{self.item_id}.{self.field}" if self.kind != "world" else f"world.{self.field}"


def content_problems(content: WorldContent) -> list[Problem]:
    """References that point at nothing: an NPC's region or faction, a region's climate or
    neighbour, a climate without one of the calendar's seasons (or with a season it lacks)."""
    problems: list[Problem] = []
    regions = {r.region_id for r in content.regions}
    factions = {f.faction_id for f in content.factions}
    climates = content.world.climates
    seasons = set(content.world.calendar.seasons)
    for climate_id, climate in climates.items():
        field = f"climates.{climate_id}.seasons"
        if missing := seasons - set(climate.seasons):
            problems.append(
                _world_problem(content, field, f"has no weather for {', '.join(sorted(missing))}")
            )
        if unknown := set(climate.seasons) - seasons:
            problems.append(
                _world_problem(content, field, f"names {', '.join(sorted(unknown))}: not in the calendar")
            )
    for region in content.regions:
        if region.climate not in climates:
            problems.append(
                Problem(
                    kind="regions",
                    item_id=region.region_id,
                    field="climate",
                    problem=f"there is no climate '{region.climate}' in world.yaml "
                    f"(known: {', '.join(sorted(climates))})",
                )
            )
        problems += [
            Problem(
                kind="regions",
                item_id=region.region_id,
                field="neighbours",
                problem=f"there is no region '{n}'",
            )
            for n in region.neighbours
            if n not in regions
        ]
    for npc in content.npcs:
        if npc.region is not None and npc.region not in regions:
            problems.append(
                Problem(
                    kind="npcs",
                    item_id=npc.npc_id,
                    field="region",
                    problem=f"there is no region '{npc.region}'",
                )
            )
        if npc.faction is not None and npc.faction not in factions:
            problems.append(
                Problem(
                    kind="npcs",
                    item_id=npc.npc_id,
                    field="faction",
                    problem=f"there is no faction '{npc.faction}'",
                )
            )
    for arc in content.arcs:
        problems += arc_problems(content, arc, regions)
    return problems + _quest_problems(content, regions)


def _quest_problems(content: WorldContent, regions: set[str]) -> list[Problem]:
    """A quest's giver is an NPC of the world; a `visit` names a region, a `talk` an NPC."""
    npcs = {n.npc_id for n in content.npcs}
    problems = []
    for quest in content.quests:
        if quest.giver not in npcs:
            problems.append(
                Problem(
                    kind="quests",
                    item_id=quest.template_id,
                    field="giver",
                    problem=f"there is no NPC '{quest.giver}'",
                )
            )
        for index, objective in enumerate(quest.objectives):
            known = {ObjectiveKind.VISIT: (regions, "region"), ObjectiveKind.TALK: (npcs, "NPC")}.get(
                objective.kind
            )
            if known is not None and objective.target not in known[0]:
                problems.append(
                    Problem(
                        kind="quests",
                        item_id=quest.template_id,
                        field=f"objectives.{index}.target",
                        problem=f"there is no {known[1]} '{objective.target}'",
                    )
                )
    return problems


def arc_problems(content: WorldContent, arc: ArcSpec, regions: set[str]) -> list[Problem]:
    """An arc's regions, seasons and parts of the day that the world does not have."""
    calendar = content.world.calendar
    seasons, parts = set(calendar.seasons), {p.name for p in calendar.parts_of_day}
    found: list[tuple[str, str]] = []
    for index, beat in enumerate(arc.beats):
        at = f"beats.{index}"
        named = [(f"{at}.region", beat.region)]
        named += [(f"{at}.when.facts.{i}.region", f.region) for i, f in enumerate(beat.when.facts)]
        named += [(f"{at}.sets.{i}.region", f.region) for i, f in enumerate(beat.sets)]
        if beat.when.event is not None:
            named.append((f"{at}.when.event.region", beat.when.event.region))
        found += [(f, f"there is no region '{r}'") for f, r in named if r is not None and r not in regions]
        if (time := beat.when.time) is not None:
            found += [
                (f"{at}.when.time.seasons", f"there is no season '{s}' in the calendar")
                for s in time.seasons
                if s not in seasons
            ]
            found += [
                (f"{at}.when.time.parts_of_day", f"there is no part of the day '{p}' in the calendar")
                for p in time.parts_of_day
                if p not in parts
            ]
    return [Problem(kind="arcs", item_id=arc.arc_id, field=f, problem=p) for f, p in found]


def _world_problem(content: WorldContent, field: str, problem: str) -> Problem:
    return Problem(kind="world", item_id=content.world.world_id, field=field, problem=problem)


def digest(item: BaseModel) -> str:
    """A content item's fingerprint: what the diff of a push compares."""
    canonical = json.dumps(item.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def content_items(content: WorldContent) -> dict[str, BaseModel]:
    """Every item of the content under its reference (`npc:mira`, `region:emberfall`, …)."""
    items: dict[str, BaseModel] = {"world:" + content.world.world_id: content.world}
    items |= {f"region:{r.region_id}": r for r in content.regions}
    items |= {f"faction:{f.faction_id}": f for f in content.factions}
    items |= {f"npc:{n.npc_id}": n for n in content.npcs}
    items |= {f"lore:{f.fact_id}": f for f in content.lore}
    items |= {f"document:{d.key}": d for d in content.documents}
    items |= {f"arc:{a.arc_id}": a for a in content.arcs}
    items |= {f"quest:{q.template_id}": q for q in content.quests}
    return items
