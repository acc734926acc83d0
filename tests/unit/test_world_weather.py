"""Weather is a seeded Markov chain per region, computed for any game hour: the same in every Lambda,
exactly the chain (not an approximation of it), its season's own, and distributed as the model says."""

from __future__ import annotations

from collections import Counter
from statistics import mean

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicore.world import weather as weather_module
from aicore.world.clock import HOURS_PER_DAY, season_at
from aicore.world.content import CalendarSpec, ClimateSpec, SeasonClimate, WeatherCondition
from aicore.world.definition import WorldDefinition
from aicore.world.weather import DEFAULT_PERSISTENCE, RegionWeather, pick, region_weather
from tests.world_fakes import demo_content

DEMO = demo_content()
CALENDAR = DEMO.world.calendar
HOURS = st.integers(0, 24 * 365 * 50)


def _demo_region(region_id: str, seed: str | None = None) -> RegionWeather:
    region = DEMO.region(region_id)
    assert region is not None
    world = DEMO.world if seed is None else DEMO.world.model_copy(update={"weather_seed": seed})
    return RegionWeather(
        world.weather_seed, world.world_id, region_id, world.climates[region.climate], CALENDAR
    )


REGIONS = [r.region_id for r in DEMO.regions]


@given(st.sampled_from(REGIONS), HOURS)
@settings(deadline=None)  # a cold draw cache on a busy machine took 268 ms: no wall-clock bound in tests
def test_the_same_hour_has_the_same_weather_in_every_lambda(region_id: str, hour: int) -> None:
    first = _demo_region(region_id).at(hour)
    weather_module._draws.cache_clear()  # another Lambda: nothing cached
    assert _demo_region(region_id).at(hour) == first


@given(st.sampled_from(REGIONS), HOURS)
def test_a_seasons_weather_is_its_own(region_id: str, hour: int) -> None:
    model = _demo_region(region_id)
    season = model.climate.seasons[season_at(CALENDAR, hour)]
    assert season.weather.get(model.condition_at(hour), 0) > 0


@settings(max_examples=20)
@given(st.sampled_from(REGIONS), st.integers(0, 24 * 365 * 20))
def test_any_hour_is_exactly_the_chain_walked_hour_by_hour(region_id: str, start: int) -> None:
    # The shortcut (start from the last hour that forgets the past) agrees with walking the chain
    model = _demo_region(region_id)
    condition = model.condition_at(start)
    for hour in range(start + 1, start + 200):
        draws = weather_module._draws(model.seed, model.world_id, model.region_id, hour)
        season = season_at(CALENDAR, hour)
        if draws.move >= model.persistence(condition, season):
            condition = pick(model.climate.seasons[season], draws.pick)
        assert model.condition_at(hour) == condition


def test_conditions_settle_as_the_chain_says_they_should() -> None:
    # Given one endless season whose weights and persistences differ
    weights = {WeatherCondition.CLEAR: 5.0, WeatherCondition.RAIN: 3.0, WeatherCondition.STORM: 1.0}
    climate = ClimateSpec(seasons={"always": SeasonClimate(weather=weights, temperature_c=10)})
    model = RegionWeather("s", "w", "r", climate, CalendarSpec(seasons=("always",)))
    # When 40,000 game hours are computed
    conditions = [model.condition_at(hour) for hour in range(40_000)]
    counts = Counter(conditions)
    # Then each condition's share is its stationary probability: w_j / (1 - p_j), normalised
    stay = {c: w / (1 - DEFAULT_PERSISTENCE[c]) for c, w in weights.items()}
    for condition, share in stay.items():
        assert counts[condition] / 40_000 == pytest.approx(share / sum(stay.values()), abs=0.04)
    # And a storm lasts about 1 / (1 - 0.6) = 2.5 hours on average
    runs, run = [], 0
    for condition in conditions:
        if condition is WeatherCondition.STORM:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    assert mean(runs) == pytest.approx(2.5, rel=0.2)


def test_afternoons_are_warmer_than_nights_and_summers_than_winters() -> None:
    model = _demo_region("emberfall")
    year = CALENDAR.days_per_year * HOURS_PER_DAY
    weather = {h: model.at(h) for h in range(10 * year)}
    afternoons = [w.temperature_c for h, w in weather.items() if h % 24 == 15]
    nights = [w.temperature_c for h, w in weather.items() if h % 24 == 3]
    assert mean(afternoons) > mean(nights) + 5
    summer = [w.temperature_c for h, w in weather.items() if season_at(CALENDAR, h) == "summer"]
    winter = [w.temperature_c for h, w in weather.items() if season_at(CALENDAR, h) == "winter"]
    assert mean(summer) > mean(winter) + 15
    storms = [w.wind_kph for w in weather.values() if w.condition is WeatherCondition.STORM]
    calm = [w.wind_kph for w in weather.values() if w.condition is WeatherCondition.CLEAR]
    assert mean(storms) > 3 * mean(calm)


def test_the_seed_and_the_region_make_the_weather() -> None:
    hours = range(24 * 28)
    base = [_demo_region("emberfall").condition_at(h) for h in hours]
    assert base != [_demo_region("emberfall", seed="another").condition_at(h) for h in hours]
    # another region has its own draws (and here its own climate)
    assert base != [_demo_region("north-pass").condition_at(h) for h in hours]
    # a world's definition builds the same model
    of_definition = region_weather(WorldDefinition.of(DEMO, 1), DEMO.regions[0])
    assert of_definition.condition_at(100) == _demo_region(DEMO.regions[0].region_id).condition_at(100)
