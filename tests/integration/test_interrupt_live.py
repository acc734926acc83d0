"""`npc.interrupt` on the local runtime (real WebSocket client, gateway, moto, the CPU model): the
player stops a reply after its first token; the reply is what was streamed, stored as said, and the
model stopped generating."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from typing import Any

import pytest

from aicore.local.runtime import LocalRuntime, local_token
from tests.clients import PUSHES, final_answers, http_json
from tests.waiting import eventually

pytestmark = [pytest.mark.model, pytest.mark.timeout(1800)]
TURN_S = 600
ATTEMPTS = 2  # a reply the model ends by itself before the stop lands is whole: one more turn then
LINE = "Tell me the whole long story of the toll on the north pass, every detail of it, please."


def _ws(runtime: LocalRuntime, token: str) -> str:
    return f"ws://127.0.0.1:{runtime.options.port}/ws?token={token}"


def _abandoned(runtime: LocalRuntime) -> int:
    """Generations the local model server stopped because their reader had gone."""
    with urllib.request.urlopen(f"{runtime.model.url}/_aicore/stats", timeout=30) as response:
        return int(json.loads(response.read())["abandoned"])


Frame = dict[str, Any]


async def _say_then_interrupt(url: str, say: Frame) -> tuple[list[str], Frame, Frame]:
    """Send `say`; at its first token, interrupt it; read until both the turn's reply and the
    interrupt's answer are in. The tokens received, the interrupt's answer, the reply."""
    import websockets

    tokens: list[str] = []
    answers: dict[str, Frame] = {}
    async with websockets.connect(url, open_timeout=TURN_S) as ws:
        await ws.send(json.dumps(say))
        while len(answers) < 2:
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=TURN_S))
            if frame["type"] == "npc.token":
                tokens.append(frame["data"]["text"])
                if len(tokens) == 1:
                    stop = {"action": "npc.interrupt", "request_id": f"stop-{say['request_id']}"}
                    await ws.send(json.dumps(stop | {"target_request_id": say["request_id"]}))
            elif frame["type"] not in PUSHES:  # a quest offered after a turn reaches the connection too
                answers[frame["request_id"]] = frame
    return tokens, answers[f"stop-{say['request_id']}"], answers[say["request_id"]]


def test_an_interrupted_reply_is_what_was_streamed_and_is_stored_as_said(runtime: LocalRuntime) -> None:
    player = f"player-{time.time_ns()}"
    token = local_token(player, "demo")
    base = f"http://127.0.0.1:{runtime.options.port}"
    abandoned_before = _abandoned(runtime)

    # Given a turn the player interrupts as soon as its first token arrives
    endings = []
    for attempt in range(ATTEMPTS):
        say = {"action": "npc.say", "request_id": f"talk-{attempt}", "npc_id": "borin", "text": LINE}
        tokens, stopped, reply = asyncio.run(_say_then_interrupt(_ws(runtime, token), say))
        assert (stopped["type"], stopped["ok"]) == ("npc.interrupted", True), stopped
        assert reply["type"] == "npc.reply", reply
        endings.append((reply["data"]["truncated_reason"], reply["data"]["timings"]["tokens"], len(tokens)))
        if reply["data"]["truncated_reason"] == "interrupted":
            break
    # Then the stop was taken while the reply streamed, and the reply is exactly what was streamed
    assert stopped["data"] == {"target_request_id": say["request_id"], "interrupted": True}
    data = reply["data"]
    assert (data["truncated"], data["truncated_reason"]) == (True, "interrupted"), endings
    assert data["text"] == "".join(tokens)
    assert data["text"]
    # ... the session holds it as said
    status, session = http_json(f"{base}/sessions/{data['session_id']}", token)
    assert status == 200, session
    [stored] = [m for m in session["data"]["messages"] if m["seq"] == data["seq"]]
    assert (stored["speaker"]["id"], stored["text"]) == ("borin", data["text"])
    # ... the model server stopped generating for nobody
    eventually(
        lambda: _abandoned(runtime) > abandoned_before, timeout_s=TURN_S, what="the model stopped generating"
    )

    # When the client repeats the npc.say (same request_id) and the interrupt
    again, stopped_again = final_answers(
        _ws(runtime, token),
        [say, {"action": "npc.interrupt", "request_id": "stop-2", "target_request_id": say["request_id"]}],
        timeout_s=TURN_S,
    )

    # Then it gets the interrupted reply (no new turn), and the same answer to the interrupt
    assert again["type"] == "npc.reply", again
    assert again["data"] == data
    assert stopped_again["data"] == stopped["data"]
