"""Protocol v2 on the local runtime (real WebSocket client, gateway, moto, the model): ping, hello,
and `npc.say` at most once per request id, across a dropped connection."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from typing import Any

import pytest

from aicore import wiring
from aicore.llm.endpoint import ChatCall
from aicore.local.runtime import LocalRuntime, local_token
from tests.clients import PUSHES, exchange, final_answers, http_json
from tests.waiting import eventually

pytestmark = [pytest.mark.model, pytest.mark.timeout(1800)]
TURN_S = 600


def _ws(runtime: LocalRuntime, token: str) -> str:
    return f"ws://127.0.0.1:{runtime.options.port}/ws?token={token}"


def test_ping_and_hello_on_the_local_runtime(runtime: LocalRuntime) -> None:
    token = local_token(f"player-{time.time_ns()}", "demo")
    hello = {"action": "connection.hello", "request_id": "h1", "client": "unity/1.5.0"}
    pong, welcome = exchange(_ws(runtime, token), [{"action": "ping", "request_id": "k1"}, hello])

    assert (pong["type"], pong["request_id"], pong["ok"]) == ("pong", "k1", True)
    assert pong["data"]["server_time"]
    assert (welcome["type"], welcome["request_id"], welcome["ok"]) == ("connection.welcome", "h1", True)
    assert welcome["data"]["protocol"] == "aicore.json.v1"
    assert welcome["data"]["resume_token"]
    assert welcome["data"]["capabilities"]["world"]["world_id"] == "demo"


class TurnsAsked:
    """Streamed model calls whose prompt carries a given player line (other work is not counted)."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.calls = 0

    def wrap(self, stream_chat: Any) -> Any:
        def counted(call: ChatCall) -> Any:
            if any(self.line in message.content for message in call.messages):
                self.calls += 1
            return stream_chat(call)

        return counted


@pytest.fixture
def line() -> str:
    return f"Do you remember the toll of {time.time_ns()}?"


def count_turns_asking(line: str, monkeypatch: pytest.MonkeyPatch) -> TurnsAsked:
    """Count the model calls whose prompt holds `line` (the wired endpoint, for this test)."""
    counter = TurnsAsked(line)
    endpoint = wiring.model_endpoint()
    monkeypatch.setattr(endpoint, "stream_chat", counter.wrap(endpoint.stream_chat))
    return counter


@pytest.fixture
def asked(line: str, monkeypatch: pytest.MonkeyPatch) -> TurnsAsked:
    return count_turns_asking(line, monkeypatch)


def _model_calls(runtime: LocalRuntime) -> int:
    """Generations the local model server took on (finished, or abandoned by their reader)."""
    with urllib.request.urlopen(f"{runtime.model.url}/_aicore/stats", timeout=30) as response:
        stats = json.loads(response.read())
    return int(stats["served"]) + int(stats["abandoned"])


async def _hello_then_drop_after_first_token(url: str, frame: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Say hello (its resume token), send the frame, read its first token, and drop the connection."""
    import websockets

    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"action": "connection.hello", "request_id": "h"}))
        welcome = json.loads(await asyncio.wait_for(ws.recv(), timeout=TURN_S))
        await ws.send(json.dumps(frame))
        first: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=TURN_S))
    return str(welcome["data"]["resume_token"]), first


async def _resume(url: str, frame: dict[str, Any]) -> list[dict[str, Any]]:
    """Send connection.resume; every frame up to and with the one that ends it."""
    import websockets

    answers: list[dict[str, Any]] = []
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps(frame))
        while not answers or answers[-1]["type"] == "session.message":
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=TURN_S))
            if frame["type"] not in PUSHES:  # a quest offered after the cut turn reaches it too
                answers.append(frame)
    return answers


def test_a_turn_cut_by_a_drop_is_stored_once_resumed_and_repeated_without_a_second_model_call(
    runtime: LocalRuntime, line: str, asked: TurnsAsked
) -> None:
    player = f"player-{time.time_ns()}"
    token = local_token(player, "demo")
    base = f"http://127.0.0.1:{runtime.options.port}"
    participants = [{"id": player, "kind": "player"}, {"id": "borin", "kind": "npc"}]
    status, created = http_json(f"{base}/sessions", token, "POST", {"participants": participants})
    assert status == 201, created
    session_id = created["data"]["session_id"]
    say = {
        "action": "npc.say",
        "request_id": "cut-1",
        "npc_id": "borin",
        "text": line,
        "session_id": session_id,
    }
    calls_before = _model_calls(runtime)

    # Given a turn whose connection dropped after its first token
    resume_token, first = asyncio.run(_hello_then_drop_after_first_token(_ws(runtime, token), say))
    assert (first["type"], first["request_id"]) == ("npc.token", "cut-1"), first

    # When the client reconnects and resumes (it has nothing of the session) until the reply is there
    resume = {"action": "connection.resume", "request_id": "z", "resume_token": resume_token}

    def resumed() -> list[dict[str, Any]] | None:
        answers = asyncio.run(_resume(_ws(runtime, token), resume | {"last_seq": {session_id: 0}}))
        assert answers[-1]["type"] == "connection.resumed", answers
        return answers if len(answers) == 3 else None  # the player's line, the reply, the end

    said, replied, end = eventually(resumed, timeout_s=TURN_S, what="the cut turn's reply, resumed")
    # Then it gets the player's line and the reply, in order
    assert (said["data"]["seq"], said["data"]["text"]) == (1, line)
    assert (replied["type"], replied["data"]["speaker"]["id"]) == ("session.message", "borin")
    assert end["data"]["sessions"] == [
        {"session_id": session_id, "sent": 2, "last_seq": 2, "next_before": None}
    ]

    # When it also repeats the frame (same request_id), twice, on new connections
    (reply,) = final_answers(_ws(runtime, token), [say], timeout_s=TURN_S)
    (again,) = final_answers(_ws(runtime, token), [say], timeout_s=TURN_S)

    # Then both get the one reply (same seq, same text as resumed), the model was asked once for it
    assert reply["type"] == again["type"] == "npc.reply", reply
    assert again["data"] == reply["data"]
    assert (reply["data"]["seq"], reply["data"]["text"]) == (2, replied["data"]["text"])
    assert asked.calls == 1
    assert _model_calls(runtime) > calls_before
    # ... and the session keeps the reply once
    status, session = http_json(f"{base}/sessions/{session_id}", token)
    assert status == 200, session
    messages = session["data"]["messages"]
    assert [(m["seq"], m["speaker"]["id"]) for m in messages] == [(1, player), (2, "borin")]
