"""`/_local/clock` on `aicore local`'s gateway: read game time, or move it forward.

Memories fade and moods settle with game time (`aicore.clock.GAME_CLOCK`). In the cloud it is the
wall clock; here a tester can jump days ahead to see what an NPC still remembers, without waiting:

    curl -X POST localhost:8000/_local/clock -d '{"advance_hours": 72}'

Game time only moves forward, and goes back to the wall clock when the runtime stops. Tokens,
stored records and the router's deadlines keep the wall clock.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aicore.clock import GameClock, stamp

CLOCK_PATH = "/_local/clock"
MAX_ADVANCE_HOURS = 10 * 365 * 24  # ten game years at once


class Advance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    advance_hours: float = Field(gt=0, le=MAX_ADVANCE_HOURS, allow_inf_nan=False)


def clock_routes(clock: GameClock) -> list[web.RouteDef]:
    """`GET /_local/clock`: game time and its lead on the wall clock; `POST` `{"advance_hours": N}`."""

    def state() -> web.Response:
        offset_hours = clock.offset / timedelta(hours=1)
        return web.json_response({"game_time": stamp(clock()), "ahead_hours": round(offset_hours, 6)})

    async def read(_: web.Request) -> web.Response:
        return state()

    async def advance(request: web.Request) -> web.Response:
        try:
            asked = Advance.model_validate_json(await request.read())
        except ValidationError:
            message = (
                f'Send {{"advance_hours": N}} with 0 < N <= {MAX_ADVANCE_HOURS}: '
                "game time only moves forward."
            )
            return web.json_response({"error": message}, status=400)
        clock.advance(timedelta(hours=asked.advance_hours))
        return state()

    return [web.get(CLOCK_PATH, read), web.post(CLOCK_PATH, advance)]
