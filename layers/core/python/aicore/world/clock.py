"""A world's game time: derived from real time, never ticked.

The clock is an anchor: at real moment `anchor_real` the game time was `anchor_game`; from there
it runs at `speed` game seconds per real second, or stands still while `paused`. Any Lambda
computes the same game time from the same anchor and the real time. Pausing, resuming and changing
speed re-anchor the clock at the moment they happen, so game time never jumps: it continues from
where it was, at the new pace. Game time starts at day 1, 00:00; days have 24 game hours.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aicore.world.content import CalendarSpec, ClockSpec

SECONDS_PER_MINUTE = 60
SECONDS_PER_HOUR = 3600
HOURS_PER_DAY = 24
SECONDS_PER_DAY = SECONDS_PER_HOUR * HOURS_PER_DAY
MAX_SPEED = 1000.0


class ClockState(BaseModel):
    model_config = ConfigDict(frozen=True)

    anchor_real: float  # unix seconds
    anchor_game: float = Field(ge=0)  # game seconds since day 1, 00:00
    speed: float = Field(gt=0, le=MAX_SPEED)
    paused: bool = False
    version: int = Field(0, ge=0)  # 0: never changed (as the world's definition starts it)
    changed_by: str | None = None

    @classmethod
    def starting(cls, spec: ClockSpec) -> ClockState:
        start = (spec.start_day - 1) * SECONDS_PER_DAY + spec.start_hour * SECONDS_PER_HOUR
        return cls(anchor_real=spec.epoch.timestamp(), anchor_game=start, speed=spec.speed)

    def game_seconds(self, real: float) -> float:
        """Game time at real time `real` (unix seconds). Before the anchor (a clock a little behind
        another Lambda's, an epoch still to come) it stands at the anchor: never earlier."""
        if self.paused:
            return self.anchor_game
        return self.anchor_game + self.speed * max(0.0, real - self.anchor_real)

    def changed(
        self, real: float, *, paused: bool | None = None, speed: float | None = None, by: str | None = None
    ) -> ClockState:
        """The clock after a studio operation at real time `real`: re-anchored where it stands then."""
        return ClockState(
            anchor_real=max(real, self.anchor_real),
            anchor_game=self.game_seconds(real),
            speed=self.speed if speed is None else speed,
            paused=self.paused if paused is None else paused,
            version=self.version + 1,
            changed_by=by,
        )


class ClockReading(BaseModel):
    """What time it is in the world, as the calendar names it."""

    game_time: int  # game seconds since day 1, 00:00
    day: int  # 1, 2, … since the world began
    hour: int
    minute: int
    part_of_day: str
    season: str
    day_of_season: int  # 1 … days_per_season
    year: int  # 1, 2, …
    speed: float
    paused: bool


def read_clock(calendar: CalendarSpec, state: ClockState, real: float) -> ClockReading:
    return reading(calendar, int(state.game_seconds(real)), state.speed, state.paused)


def reading(calendar: CalendarSpec, game_time: int, speed: float, paused: bool) -> ClockReading:
    day_index, second_of_day = divmod(game_time, SECONDS_PER_DAY)
    hour, second_of_hour = divmod(second_of_day, SECONDS_PER_HOUR)
    season_index, day_of_season = divmod(day_index, calendar.days_per_season)
    return ClockReading(
        game_time=game_time,
        day=day_index + 1,
        hour=hour,
        minute=second_of_hour // SECONDS_PER_MINUTE,
        part_of_day=part_of_day(calendar, hour),
        season=calendar.seasons[season_index % len(calendar.seasons)],
        day_of_season=day_of_season + 1,
        year=season_index // len(calendar.seasons) + 1,
        speed=speed,
        paused=paused,
    )


def part_of_day(calendar: CalendarSpec, hour: int) -> str:
    return [p.name for p in calendar.parts_of_day if p.starts_at_hour <= hour][-1]


def season_at(calendar: CalendarSpec, game_hour: int) -> str:
    """The season of the day that game hour `game_hour` (hours since day 1, 00:00) falls in."""
    day_index = game_hour // HOURS_PER_DAY
    return calendar.seasons[(day_index // calendar.days_per_season) % len(calendar.seasons)]


class ClockChange(BaseModel):
    """`PUT /worlds/{world}/clock`: pause or resume, change the speed, or both."""

    model_config = ConfigDict(extra="forbid")

    paused: bool | None = None
    speed: float | None = Field(None, gt=0, le=MAX_SPEED)

    @model_validator(mode="after")
    def _something(self) -> ClockChange:
        if self.paused is None and self.speed is None:
            raise ValueError(
                "say what to change: 'paused' (true or false), 'speed' (game seconds per real second)"
            )
        return self
