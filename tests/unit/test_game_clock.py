"""Game time: the wall clock plus a lead that only grows; `aicore local`'s `/_local/clock` moves it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from aiohttp import web

from aicore.clock import GameClock
from aicore.local.game_time import CLOCK_PATH, clock_routes

WALL = datetime(2026, 11, 1, 18, 0, tzinfo=UTC)


def test_game_time_leads_the_wall_clock_by_what_it_was_moved_and_never_goes_back() -> None:
    clock = GameClock(lambda: WALL)
    assert clock() == WALL
    assert clock.advance(timedelta(days=3)) == timedelta(days=3)
    assert clock() == WALL + timedelta(days=3)
    with pytest.raises(ValueError, match="only moves forward"):
        clock.advance(timedelta(hours=-1))
    clock.reset()
    assert clock() == WALL


class Body:
    """What the route reads of a request: its body."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def read(self) -> bytes:
        return self._body


def _call(clock: GameClock, method: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    (route,) = [r for r in clock_routes(clock) if r.method == method and r.path == CLOCK_PATH]
    handler = cast("Callable[[Body], Coroutine[Any, Any, web.Response]]", route.handler)
    response: web.Response = asyncio.run(handler(Body(body)))
    assert isinstance(response.body, bytes)
    return response.status, json.loads(response.body)


def test_the_local_clock_route_moves_game_time_forward() -> None:
    clock = GameClock(lambda: WALL)
    status, moved = _call(clock, "POST", json.dumps({"advance_hours": 72}).encode())
    assert status == 200
    assert moved == {"game_time": "2026-11-04T18:00:00.000+00:00", "ahead_hours": 72.0}
    assert _call(clock, "GET") == (200, moved)


@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"advance_hours": -1}', b'{"advance_hours": 0}', b'{"advance_hours": "x"}', b"nope", b"1e999"],
)
def test_the_local_clock_refuses_anything_but_a_step_forward(body: bytes) -> None:
    clock = GameClock(lambda: WALL)
    status, answer = _call(clock, "POST", body)
    assert status == 400
    assert "advance_hours" in answer["error"]
    assert clock() == WALL
