"""Environmental narrative: a short description of a region as it is now (time, weather, facts).

Written by a model tier through the router (silver first, gold if silver cannot, a line from
templates if neither answers in time) and kept per region with the digest of what it describes:
the region as pushed, the part of day, the season, the weather (condition, a temperature band, a
wind band) and the versions of the facts that concern it. A read whose digest matches costs no
model call; a change to any of those writes a new one. A template narration is kept only a few
minutes, so the model is asked again once it may be back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from aicore.auth import Caller
from aicore.clock import Clock, now, stamp
from aicore.errors import NotFound
from aicore.llm.router import SCRIPTED, Completion, ModelRequest
from aicore.llm.tiers import SILVER_BUDGET_MS
from aicore.llm.wire import ChatMessage
from aicore.world.clock import ClockReading
from aicore.world.content import RegionSpec, WeatherCondition
from aicore.world.definition import WorldDefinition
from aicore.world.now import WorldNow, world_now
from aicore.world.state import FactView, WorldStateStore
from aicore.world.weather import Weather

MAX_TOKENS = 90  # two or three sentences
TEMPLATE_KEPT_S = 300.0  # a template narration is replaced by the model's once this old

SKY: dict[WeatherCondition, str] = {
    WeatherCondition.CLEAR: "the sky is clear",
    WeatherCondition.CLOUDY: "clouds hang low",
    WeatherCondition.RAIN: "rain falls steadily",
    WeatherCondition.STORM: "a storm rages",
    WeatherCondition.FOG: "fog lies thick",
    WeatherCondition.SNOW: "snow is falling",
}
TEMPERATURE_BANDS = ((-5, "bitterly cold"), (5, "cold"), (12, "cool"), (20, "mild"), (28, "warm"))
WIND_BANDS = ((5, "the air is still"), (15, "a light breeze blows"), (30, "a stiff wind blows"))
SYSTEM_PROMPT = (
    "You narrate a fantasy game world. In two or three sentences of vivid present-tense prose, "
    "describe the place as it is right now: the hour, the weather, and what is true there. "
    "No lists, no headings, no dialogue, nothing that is not in the notes."
)


class Router(Protocol):
    def stream(
        self, request: ModelRequest, on_token: Callable[[str], bool | None], scripted_line: Callable[[], str]
    ) -> Completion: ...


class CachedNarration(BaseModel):
    digest: str
    text: str
    tier: str  # gold | silver | scripted (the template)
    written_at: float  # unix seconds


class NarrationStore(WorldStateStore, Protocol):
    def narration(self, world_id: str, region_id: str) -> CachedNarration | None: ...
    def put_narration(self, world_id: str, region_id: str, narration: CachedNarration) -> None: ...


@dataclass
class NarrationDeps:
    store: NarrationStore
    router: Router
    time: Clock = now
    # False (WORLD_NARRATOR=template, the world-narrator only): a new narration from templates, not
    # cached, so a read over HTTP still asks the model. The integration tests' one CPU model serves
    # their turns, not narrations written in the background after every weather change.
    write_with_model: bool = True


class Narration(BaseModel):
    text: str
    source: Literal["model", "template"]
    tier: str
    cached: bool  # True: no model call, nothing it describes changed
    written_at: str
    # Of what it describes (region, part of day, season, weather bands, facts' versions): the
    # world-narrator's event carries it; not part of the HTTP answer.
    digest: str = Field(exclude=True)


class RegionView(BaseModel):
    region_id: str
    name: str
    description: str
    climate: str
    neighbours: tuple[str, ...]


class RegionNow(BaseModel):
    """`GET /worlds/{world}/regions/{region}`."""

    world_id: str
    region: RegionView
    clock: ClockReading
    weather: Weather
    facts: dict[str, FactView]
    narration: Narration
    state_version: int


def narrate_region(deps: NarrationDeps, caller: Caller, world_id: str, region_id: str) -> RegionNow:
    caller.require_world(world_id)
    return region_now(deps, world_id, region_id)


def region_now(deps: NarrationDeps, world_id: str, region_id: str) -> RegionNow:
    """The region as it is now with its narration: the cached one while nothing it describes changed,
    else a new one (`deps.write_with_model` False: from templates, left out of the cache)."""
    stored = deps.store.state(world_id)
    definition = stored.definition
    region = definition.region(region_id) if definition else None
    if definition is None or region is None:
        raise NotFound(f"World '{world_id}' has no region '{region_id}'.", {"region": region_id})
    real = deps.time().timestamp()
    seen = world_now(stored, region_id, real)
    assert seen is not None  # the world has a definition: it was read just now
    digest = _digest(definition, region, seen)
    cached = deps.store.narration(world_id, region_id)
    fresh = cached is not None and cached.digest == digest
    if not deps.write_with_model:
        if cached is None or not fresh:
            cached = CachedNarration(
                digest=digest, text=template(region, seen), tier=SCRIPTED, written_at=real
            )
    elif (
        cached is None
        or not fresh
        or (cached.tier == SCRIPTED and real - cached.written_at >= TEMPLATE_KEPT_S)
    ):
        cached = _write(deps, region, seen, digest, real)
        deps.store.put_narration(world_id, region_id, cached)
        fresh = False
    return RegionNow(
        world_id=world_id,
        region=RegionView(
            region_id=region.region_id,
            name=region.name,
            description=region.description,
            climate=region.climate,
            neighbours=region.neighbours,
        ),
        clock=seen.clock,
        weather=_weather(seen),
        facts=seen.facts,
        narration=Narration(
            text=cached.text,
            source="template" if cached.tier == SCRIPTED else "model",
            tier=cached.tier,
            cached=fresh,
            written_at=stamp_of(cached.written_at),
            digest=cached.digest,
        ),
        state_version=seen.state_version,
    )


def _write(
    deps: NarrationDeps, region: RegionSpec, seen: WorldNow, digest: str, real: float
) -> CachedNarration:
    request = ModelRequest(
        messages=[
            ChatMessage(role="system", content=SYSTEM_PROMPT),
            ChatMessage(role="user", content=_notes(region, seen)),
        ],
        first_token_budget_ms=SILVER_BUDGET_MS,  # silver writes it; gold if silver cannot
        max_tokens=MAX_TOKENS,
        temperature=0.8,
    )
    completion = deps.router.stream(request, lambda _: None, lambda: template(region, seen))
    text = " ".join(completion.text.split()) or template(region, seen)
    return CachedNarration(digest=digest, text=text, tier=completion.tier, written_at=real)


def _notes(region: RegionSpec, seen: WorldNow) -> str:
    assert seen.weather is not None
    c, w = seen.clock, seen.weather
    lines = [
        f"Place: {region.name}. {region.description}",
        f"Time: {c.part_of_day}, {c.hour:02d}:{c.minute:02d}, day {c.day_of_season} of {c.season}.",
        f"Weather: {w.condition.value}, {w.temperature_c:g} °C ({temperature_band(w.temperature_c)}), "
        f"wind {w.wind_kph:g} km/h.",
    ]
    lines += [f"True now: {key.replace('_', ' ')} = {json.dumps(f.value)}" for key, f in seen.facts.items()]
    return "\n".join(lines)


def template(region: RegionSpec, seen: WorldNow) -> str:
    """The narration from templates: what the region is like now, with no model."""
    assert seen.weather is not None
    w, c = seen.weather, seen.clock
    first = f"{c.part_of_day.capitalize()} in {region.name}, in {c.season}: {SKY[w.condition]}"
    weather = f"it is {temperature_band(w.temperature_c)} and {wind_band(w.wind_kph)}."
    about = region.description.split(". ")[0].rstrip(".") + "." if region.description else ""
    facts = [
        f"{key.replace('_', ' ').capitalize()}: {_plain(f.value)}." for key, f in list(seen.facts.items())[:3]
    ]
    return " ".join(part for part in (f"{first}, {weather}", about, *facts) if part)


def temperature_band(celsius: float) -> str:
    return next((name for limit, name in TEMPERATURE_BANDS if celsius < limit), "hot")


def wind_band(kph: float) -> str:
    return next((name for limit, name in WIND_BANDS if kph < limit), "a gale howls")


def _digest(definition: WorldDefinition, region: RegionSpec, seen: WorldNow) -> str:
    assert seen.weather is not None
    described = {
        "region": region.model_dump(mode="json"),
        "part_of_day": seen.clock.part_of_day,
        "season": seen.clock.season,
        "condition": seen.weather.condition.value,
        "temperature": temperature_band(seen.weather.temperature_c),
        "wind": wind_band(seen.weather.wind_kph),
        "facts": sorted((k, f.version) for k, f in seen.facts.items()),
        "world": definition.world_id,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]


def _weather(seen: WorldNow) -> Weather:
    assert seen.weather is not None, "a region always has weather"
    return seen.weather


def _plain(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def stamp_of(unix_seconds: float) -> str:
    return stamp(datetime.fromtimestamp(unix_seconds, UTC))
