"""The one notion of time in aicore: aware UTC datetimes, stamped as ISO 8601 with milliseconds.

Logic that depends on time takes a `Clock` (default `now`), so tests move time instead of waiting.

Two clocks: `now`, the wall clock (token expiry, stored records), and `game_time`, the world's
time that an NPC's memories and moods decay by. In the cloud they agree; `aicore local` can move
game time forward (`POST /_local/clock`) to show what days of game time do to an NPC's mind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def now() -> datetime:
    return datetime.now(UTC)


class GameClock:
    """The wall clock plus an offset that only ever grows (game time never runs backwards)."""

    def __init__(self, base: Clock = now) -> None:
        self._base = base
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        return self._base() + self._offset

    @property
    def offset(self) -> timedelta:
        return self._offset

    def advance(self, by: timedelta) -> timedelta:
        """Move game time on by `by` (not negative); the offset from the wall clock it now has."""
        if by < timedelta(0):
            raise ValueError("game time only moves forward")
        with self._lock:
            self._offset += by
            return self._offset

    def reset(self) -> None:
        """Back to the wall clock (a local runtime that stops; tests)."""
        with self._lock:
            self._offset = timedelta(0)


GAME_CLOCK = GameClock()


def game_time() -> datetime:
    """The world's time now: the process's `GAME_CLOCK`."""
    return GAME_CLOCK()


def stamp(moment: datetime) -> str:
    """`2026-11-30T20:22:44.123+00:00`: sorts as text in time order (DynamoDB conditions rely on it)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def utc_now() -> str:
    """The current time, stamped."""
    return stamp(now())
