"""A group session on the local runtime (real WebSockets, gateway, moto, the model): three players and
two NPCs, two turns (one picked by the director) and an ambient scene; every connection gets every
line exactly once (counted frame by frame)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from aicore.local.runtime import LocalRuntime, local_token
from tests.clients import http_json

pytestmark = [pytest.mark.model, pytest.mark.timeout(1800)]
TURN_S = 600


@dataclass(eq=False)
class Seat:
    """One player's connection, every frame it receives kept in order."""

    name: str
    ws: Any
    frames: list[dict[str, Any]] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        async for raw in self.ws:
            self.frames.append(json.loads(raw))

    async def answer(self, frame: dict[str, Any], final: str, timeout_s: float = TURN_S) -> dict[str, Any]:
        """Send a frame; the frame that ends it (`final` or an error)."""
        await self.ws.send(json.dumps(frame))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for got in self.frames:
                if got.get("request_id") == frame["request_id"] and got["type"] in (final, "error"):
                    return got
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name}: no {final} for {frame['request_id']} within {timeout_s} s")

    def lines(self) -> Counter[int]:
        """How many `session.message` frames came of each seq."""
        return Counter(f["data"]["seq"] for f in self.frames if f["type"] == "session.message")


async def _seat(runtime: LocalRuntime, name: str, player: str) -> Seat:
    import websockets

    url = f"ws://127.0.0.1:{runtime.options.port}/ws?token={local_token(player, 'demo')}"
    seat = Seat(name, await websockets.connect(url))
    seat.reader = asyncio.create_task(seat.read())
    return seat


async def _until(check: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.05)


async def _group_talk(runtime: LocalRuntime, session_id: str, players: list[str]) -> list[Seat]:
    p1, p2, p3 = players
    seats = [
        await _seat(runtime, "p1-desk", p1),
        await _seat(runtime, "p1-phone", p1),
        await _seat(runtime, "p2", p2),
        await _seat(runtime, "p3", p3),
    ]
    desk, phone, second, third = seats
    try:
        # p2 and p3 join the open session by session.join alone
        for seat in (second, third):
            joined = await seat.answer(
                {"action": "session.join", "request_id": f"j-{seat.name}", "session_id": session_id},
                "session.joined",
                timeout_s=60,
            )
            assert joined["ok"], joined
        # p1 talks to Mira; then p2 names Borin and lets the director pick
        said = {"action": "npc.say", "request_id": "g-1", "npc_id": "mira", "session_id": session_id}
        first = await desk.answer({**said, "text": "Good evening, Mira."}, "npc.reply")
        assert first["ok"], first
        frame = {"action": "npc.say", "request_id": "g-2", "session_id": session_id}
        second_reply = await second.answer({**frame, "text": "Borin, what do you forge?"}, "npc.reply")
        assert second_reply["ok"], second_reply
        assert (second_reply["data"]["npc_id"], second_reply["data"]["chosen_by"]) == ("borin", "named")
        assert [first["data"]["seq"], second_reply["data"]["seq"]] == [2, 4]
        # p3 asks Mira and Borin for an ambient scene of two lines
        scene = {"action": "session.scene", "request_id": "g-3", "session_id": session_id, "lines": 2}
        played = await third.answer(
            {**scene, "npc_ids": ["mira", "borin"], "topic": "the storm"}, "session.scene"
        )
        assert played["ok"], played
        assert [(line["seq"], line["npc_id"]) for line in played["data"]["lines"]] == [
            (5, "mira"),
            (6, "borin"),
        ]
        expected = {
            desk: {3, 4, 5, 6},  # it said 1 and got 2 as its own npc.reply
            phone: {1, 2, 3, 4, 5, 6},
            second: {1, 2, 5, 6},  # it said 3 and got 4 as its own npc.reply
            third: {1, 2, 3, 4, 5, 6},  # a scene's lines come to the asking connection too
        }
        await _until(
            lambda: all(set(s.lines()) >= want for s, want in expected.items()),
            timeout_s=60,
            what="every connection has every line",
        )
        # A ping on each: anything pushed before it (a duplicate too) has arrived by its pong
        for seat in seats:
            await seat.answer({"action": "ping", "request_id": f"k-{seat.name}"}, "pong", timeout_s=60)
        return seats
    finally:
        for seat in seats:
            await seat.ws.close()
            if seat.reader is not None:
                await asyncio.gather(seat.reader, return_exceptions=True)


def test_three_players_and_two_npcs_get_every_line_exactly_once(runtime: LocalRuntime) -> None:
    # Given an open session p1 starts with Mira and Borin
    stamp = time.time_ns()
    players = [f"group-{stamp}-{n}" for n in (1, 2, 3)]
    participants = [
        {"id": players[0], "kind": "player"},
        {"id": "mira", "kind": "npc"},
        {"id": "borin", "kind": "npc"},
    ]
    status, created = http_json(
        f"http://127.0.0.1:{runtime.options.port}/sessions",
        local_token(players[0], "demo"),
        "POST",
        {"participants": participants, "metadata": {"open": True}},
    )
    assert status == 201, created
    session_id = created["data"]["session_id"]
    # When p2 and p3 join and two lines are said (one named NPC, one picked by the director)
    seats = asyncio.run(_group_talk(runtime, session_id, players))
    # Then each connection got each line it did not send or get as its own reply exactly once
    desk, phone, second, third = seats
    assert desk.lines() == Counter({3: 1, 4: 1, 5: 1, 6: 1})
    assert phone.lines() == Counter({1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1})
    assert second.lines() == Counter({1: 1, 2: 1, 5: 1, 6: 1})
    assert third.lines() == Counter({1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1})
    # And the lines name who said them
    names = {
        f["data"]["seq"]: f["data"]["speaker_name"] for f in third.frames if f["type"] == "session.message"
    }
    assert names[1] == players[0]
    assert names[3] == players[1]
    assert names[2] == "Mira the Innkeeper"
    assert names[4] == "Borin Ironhand"
    # And the session holds the four lines, in order
    status, page = http_json(
        f"http://127.0.0.1:{runtime.options.port}/sessions/{session_id}/messages",
        local_token(players[2], "demo"),
    )
    assert status == 200, page
    speakers = [m["speaker"]["id"] for m in page["data"]["messages"]]
    assert speakers == [players[0], "mira", players[1], "borin", "mira", "borin"]
