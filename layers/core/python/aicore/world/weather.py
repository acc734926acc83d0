"""Weather per region: a seeded Markov chain over conditions, by season, for any game hour.

Each game hour a region's condition either holds (with its persistence `p`) or the weather moves
on, to a condition drawn by the season's weights `w`:

    P(i -> j) = p_i * [i = j] + (1 - p_i) * w_j

(`p_i` is 0 for a condition the season does not have, so a season's weather is always its own.)

Every hour's two random numbers come from a hash of (seed, world, region, hour), so any Lambda
computes the same weather for the same hour, with no state and no ticking. The chain is computed
exactly without walking it from the beginning of time: an hour whose first draw is at least the
season's largest persistence moves *every* condition on, to the same draw, so the condition there
does not depend on the past; the condition at hour `h` is that draw, walked forward from the last
such hour before `h` (expected a few hours back: 1 / (1 - max p)). Temperature and wind follow the
condition, the season and the hour of the day, with a little seeded noise.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache

from pydantic import BaseModel

from aicore.world.clock import HOURS_PER_DAY, season_at
from aicore.world.content import CalendarSpec, ClimateSpec, RegionSpec, SeasonClimate, WeatherCondition
from aicore.world.definition import WorldDefinition

DEFAULT_PERSISTENCE: Mapping[WeatherCondition, float] = {
    WeatherCondition.CLEAR: 0.92,
    WeatherCondition.CLOUDY: 0.85,
    WeatherCondition.RAIN: 0.8,
    WeatherCondition.STORM: 0.6,
    WeatherCondition.FOG: 0.75,
    WeatherCondition.SNOW: 0.85,
}
# What a condition does to the day's temperature, and the wind it brings (before the climate's factor).
TEMPERATURE_OFFSET_C: Mapping[WeatherCondition, float] = {
    WeatherCondition.CLEAR: 1.5,
    WeatherCondition.CLOUDY: 0.0,
    WeatherCondition.RAIN: -2.0,
    WeatherCondition.STORM: -3.5,
    WeatherCondition.FOG: -1.0,
    WeatherCondition.SNOW: -3.0,
}
WIND_KPH: Mapping[WeatherCondition, float] = {
    WeatherCondition.CLEAR: 8.0,
    WeatherCondition.CLOUDY: 14.0,
    WeatherCondition.RAIN: 18.0,
    WeatherCondition.STORM: 45.0,
    WeatherCondition.FOG: 4.0,
    WeatherCondition.SNOW: 16.0,
}
WARMEST_HOUR = 15  # the daily swing peaks mid-afternoon and bottoms out at 03:00
NOISE_C = 1.5
WIND_NOISE = 0.35
# Beyond this many hours back without an hour that moves every condition on (chance max_p ** this,
# below 1e-8 for the default persistences), the walk starts from that hour's draw anyway.
MAX_LOOKBACK_HOURS = 14 * HOURS_PER_DAY


class Weather(BaseModel):
    condition: WeatherCondition
    temperature_c: float
    wind_kph: float


@dataclass(frozen=True)
class _Draws:
    move: float  # [0, 1): the weather moves on when this is at least the condition's persistence
    pick: float  # [0, 1): where it moves, by the season's weights
    temperature: float  # [-1, 1)
    wind: float  # [-1, 1)


@lru_cache(maxsize=4096)
def _draws(seed: str, world_id: str, region_id: str, hour: int) -> _Draws:
    digest = hashlib.blake2b(
        f"{seed}\x1f{world_id}\x1f{region_id}\x1f{hour}".encode(), digest_size=16
    ).digest()
    move, pick, temperature, wind = (
        int.from_bytes(digest[i : i + 4], "big") / 2**32 for i in range(0, 16, 4)
    )
    return _Draws(move, pick, 2 * temperature - 1, 2 * wind - 1)


@dataclass(frozen=True)
class _Season:
    """A season's chain, ready to walk: each condition's persistence, the largest, the weights."""

    persistence: Mapping[WeatherCondition, float]
    most_persistent: float
    climate: SeasonClimate


@dataclass(frozen=True)
class RegionWeather:
    """The weather model of one region of one world."""

    seed: str
    world_id: str
    region_id: str
    climate: ClimateSpec
    calendar: CalendarSpec

    @cached_property
    def _seasons(self) -> dict[str, _Season]:
        seasons = {}
        for name, season in self.climate.seasons.items():
            persistence = {
                c: self.climate.persistence.get(c, DEFAULT_PERSISTENCE[c])
                if season.weather.get(c, 0) > 0
                else 0.0
                for c in WeatherCondition
            }
            seasons[name] = _Season(persistence, max(persistence.values()), season)
        return seasons

    def persistence(self, condition: WeatherCondition, season: str) -> float:
        """The chance `condition` holds another hour in `season` (0: not this season's weather)."""
        return self._seasons[season].persistence[condition]

    def condition_at(self, hour: int) -> WeatherCondition:
        start = self._independent_hour(hour)
        condition = self._pick(start)
        for step in range(start + 1, hour + 1):
            season = self._seasons[season_at(self.calendar, step)]
            draws = _draws(self.seed, self.world_id, self.region_id, step)
            if draws.move >= season.persistence[condition]:
                condition = pick(season.climate, draws.pick)
        return condition

    def at(self, hour: int) -> Weather:
        """The weather in game hour `hour` (hours since day 1, 00:00)."""
        condition = self.condition_at(hour)
        season = self.climate.seasons[season_at(self.calendar, hour)]
        draws = _draws(self.seed, self.world_id, self.region_id, hour)
        daily = math.sin(2 * math.pi * (hour % HOURS_PER_DAY - WARMEST_HOUR + 6) / HOURS_PER_DAY)
        temperature = (
            season.temperature_c
            + season.daily_swing_c * daily
            + TEMPERATURE_OFFSET_C[condition]
            + NOISE_C * draws.temperature
        )
        wind = WIND_KPH[condition] * self.climate.wind_factor * (1 + WIND_NOISE * draws.wind)
        return Weather(
            condition=condition, temperature_c=round(temperature, 1), wind_kph=round(max(0.0, wind), 1)
        )

    def _independent_hour(self, hour: int) -> int:
        """The last hour at or before `hour` whose draw moves every condition on."""
        for step in range(hour, hour - MAX_LOOKBACK_HOURS, -1):
            season = self._seasons[season_at(self.calendar, step)]
            if _draws(self.seed, self.world_id, self.region_id, step).move >= season.most_persistent:
                return step
        return hour - MAX_LOOKBACK_HOURS

    def _pick(self, hour: int) -> WeatherCondition:
        season = self._seasons[season_at(self.calendar, hour)]
        return pick(season.climate, _draws(self.seed, self.world_id, self.region_id, hour).pick)


def pick(season: SeasonClimate, draw: float) -> WeatherCondition:
    """The condition at `draw` (in [0, 1)) of the season's weights, in a fixed order."""
    weighted = [(c, w) for c in WeatherCondition if (w := season.weather.get(c, 0)) > 0]
    total = sum(w for _, w in weighted)
    running = 0.0
    for condition, weight in weighted:
        running += weight / total
        if draw < running:
            return condition
    return weighted[-1][0]


def region_weather(definition: WorldDefinition, region: RegionSpec) -> RegionWeather:
    world = definition.world
    return RegionWeather(
        world.weather_seed, world.world_id, region.region_id, definition.climate(region), world.calendar
    )
