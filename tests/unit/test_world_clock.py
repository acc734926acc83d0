"""Game time is derived from real time (never ticked): properties over random calendars, clocks and
studio operations, with injected real times; pausing and speed changes through the real handler."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicore.auth import Caller
from aicore.world.clock import (
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    ClockState,
    read_clock,
    reading,
    season_at,
)
from aicore.world.content import CalendarSpec, ClockSpec
from tests.edge_calls import PLAYER, STUDIO, HttpEdge
from tests.world_fakes import demo_content

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

calendars = st.builds(
    CalendarSpec,
    days_per_season=st.integers(1, 40),
    seasons=st.lists(
        st.sampled_from(["spring", "summer", "autumn", "winter", "wet", "dry", "frost"]),
        min_size=1,
        max_size=6,
        unique=True,
    ).map(tuple),
)
specs = st.builds(
    ClockSpec,
    epoch=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    speed=st.floats(0.01, 1000),
    start_day=st.integers(1, 10_000),
    start_hour=st.integers(0, 23),
)
# A studio operation: how long after the previous one (real seconds), what it does
operations = st.lists(
    st.tuples(
        st.floats(0, 10 * SECONDS_PER_DAY),
        st.sampled_from(["pause", "resume", "speed"]),
        st.floats(0.01, 1000),
    ),
    max_size=12,
)


def _timeline(spec: ClockSpec, ops: list[tuple[float, str, float]]) -> list[tuple[float, ClockState]]:
    """The clock after each operation, from a start a little before the epoch."""
    state = ClockState.starting(spec)
    real = spec.epoch.timestamp() - 1000
    timeline = [(real, state)]
    for delta, op, speed in ops:
        real += delta
        state = state.changed(
            real,
            paused={"pause": True, "resume": False}.get(op),
            speed=speed if op == "speed" else None,
        )
        timeline.append((real, state))
    return timeline


def _in_force(timeline: list[tuple[float, ClockState]], real: float) -> ClockState:
    return [state for changed_at, state in timeline if changed_at <= real][-1]


@given(specs, operations, st.lists(st.floats(0, 60 * SECONDS_PER_DAY), min_size=2, max_size=30))
def test_game_time_never_goes_back(
    spec: ClockSpec, ops: list[tuple[float, str, float]], offsets: list[float]
) -> None:
    timeline = _timeline(spec, ops)
    start = timeline[0][0]
    times = sorted(start + offset for offset in offsets)
    game = [_in_force(timeline, t).game_seconds(t) for t in times]
    assert game == sorted(game)


@given(specs, operations)
def test_studio_operations_never_make_game_time_jump(
    spec: ClockSpec, ops: list[tuple[float, str, float]]
) -> None:
    timeline = _timeline(spec, ops)
    for (_, before), (changed_at, after) in pairwise(timeline):
        assert after.game_seconds(changed_at) == before.game_seconds(changed_at)
        assert after.version == before.version + 1


@given(specs, st.floats(0, 100 * SECONDS_PER_DAY), st.floats(0, 100 * SECONDS_PER_DAY))
def test_a_paused_clock_stands_still_and_resumes_where_it_stood(
    spec: ClockSpec, pause_at: float, wait: float
) -> None:
    real = spec.epoch.timestamp() + pause_at
    paused = ClockState.starting(spec).changed(real, paused=True)
    assert paused.game_seconds(real + wait) == paused.game_seconds(real)
    resumed = paused.changed(real + wait, paused=False)
    assert resumed.game_seconds(real + wait) == paused.game_seconds(real)


@given(specs)
def test_the_clock_starts_where_the_world_says_and_runs_at_its_speed(spec: ClockSpec) -> None:
    clock = ClockState.starting(spec)
    epoch = spec.epoch.timestamp()
    start = (spec.start_day - 1) * SECONDS_PER_DAY + spec.start_hour * SECONDS_PER_HOUR
    assert clock.game_seconds(epoch - 50) == start  # before the epoch it stands at the start
    assert clock.game_seconds(epoch + 100) == pytest.approx(start + 100 * spec.speed)


@given(calendars, st.integers(0, 10**12))
def test_a_reading_names_the_moment_by_the_calendar(calendar: CalendarSpec, game_time: int) -> None:
    read = reading(calendar, game_time, 12.0, False)
    elapsed = (read.day - 1) * SECONDS_PER_DAY + read.hour * SECONDS_PER_HOUR + read.minute * 60
    assert 0 <= game_time - elapsed < 60
    day_index = read.day - 1
    assert read.season == calendar.seasons[(day_index // calendar.days_per_season) % len(calendar.seasons)]
    assert read.day_of_season == day_index % calendar.days_per_season + 1
    assert read.year == day_index // calendar.days_per_year + 1
    assert read.part_of_day in {p.name for p in calendar.parts_of_day}
    assert season_at(calendar, game_time // SECONDS_PER_HOUR) == read.season


@given(calendars, st.integers(0, 10_000))
def test_seasons_follow_the_calendar_in_order_each_lasting_its_days(
    calendar: CalendarSpec, first_day: int
) -> None:
    # Over two years from any day, each day's season is the calendar's sequence, run-length encoded
    days = range(first_day, first_day + 2 * calendar.days_per_year)
    seasons = [reading(calendar, day * SECONDS_PER_DAY, 1.0, False).season for day in days]
    for day, (today, tomorrow) in zip(days, pairwise(seasons), strict=False):
        if (day + 1) % calendar.days_per_season:
            assert tomorrow == today
        else:
            index = calendar.seasons.index(today)
            assert tomorrow == calendar.seasons[(index + 1) % len(calendar.seasons)]


def test_parts_of_day_follow_the_calendar() -> None:
    calendar = demo_content().world.calendar
    names = [reading(calendar, hour * SECONDS_PER_HOUR, 1.0, False).part_of_day for hour in range(24)]
    assert names[0] == names[4] == names[23] == "night"
    assert (names[5], names[7], names[12], names[18]) == ("dawn", "morning", "afternoon", "evening")


class Wall:
    """The real time, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _put_clock(edge: HttpEdge, body: object, caller: Caller = STUDIO) -> tuple[int, dict[str, object]]:
    reply = edge.call("PUT", "/worlds/demo/clock", body=json.dumps(body).encode(), caller=caller)
    return reply.status, reply.body


def test_pausing_resuming_and_speeding_up_keep_game_time_continuous() -> None:
    # Given the demo world's clock, 10 real minutes after its epoch (12x: two game hours later)
    edge = HttpEdge()
    wall = Wall(EPOCH + timedelta(minutes=10))
    edge.world_time = wall
    # When the studio pauses it
    status, paused = _put_clock(edge, {"paused": True})
    assert status == 200, paused
    data = paused["data"]
    assert isinstance(data, dict)
    assert (data["day"], data["hour"], data["minute"], data["paused"]) == (1, 10, 0, True)
    # Then an hour later it still reads 10:00, and resumes from there at a new speed
    wall.at += timedelta(hours=1)
    status, resumed = _put_clock(edge, {"paused": False, "speed": 60})
    data = resumed["data"]
    assert isinstance(data, dict)
    assert (data["hour"], data["minute"], data["speed"], data["paused"]) == (10, 0, 60, False)
    # And one real minute later an hour of game time has passed
    stored = edge.world_state.clock("demo")
    assert stored is not None
    calendar = demo_content().world.calendar
    wall.at += timedelta(minutes=1)
    later = read_clock(calendar, stored, wall.at.timestamp())
    assert (later.hour, later.minute) == (11, 0)
    assert stored.version == 2


def test_only_the_studio_sets_the_clock_of_a_world_that_exists() -> None:
    edge = HttpEdge()
    assert _put_clock(edge, {"paused": True}, PLAYER)[0] == 403
    status, empty = _put_clock(edge, {})
    assert status == 400
    error = empty["error"]
    assert isinstance(error, dict)
    assert "say what to change" in json.dumps(error["details"])
    assert _put_clock(edge, {"speed": 0})[0] == 400
    reply = edge.call("PUT", "/worlds/elsewhere/clock", body=b'{"paused": true}', caller=STUDIO)
    assert reply.status == 403  # a studio token of another world
