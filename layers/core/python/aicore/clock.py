"""The one notion of time in aicore: aware UTC datetimes, stamped as ISO 8601 with milliseconds.

Logic that depends on time takes a `Clock` (default `now`), so tests move time instead of waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """`2026-11-30T20:22:44.123+00:00`: sorts as text in time order (DynamoDB conditions rely on it)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def utc_now() -> str:
    """The current time, stamped."""
    return stamp(now())
