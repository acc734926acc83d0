"""Protobuf on the wire, live (docs/protocol.md#encodings): a client that negotiates aicore.proto.v1
on the local runtime talks to an NPC in protobuf frames; a JSON client on the same runtime is
unaffected; bad protobuf gets an error frame and the connection keeps serving."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from typing import Any

import pytest
import websockets
from websockets.typing import Subprotocol

from aicore.local.runtime import LocalRuntime, local_token
from aicore_client.protobuf import decode_server, wrap_client
from tests.clients import PUSHES, final_answers

pytestmark = [pytest.mark.model, pytest.mark.timeout(1800)]
TURN_S = 600
PROTO = Subprotocol("aicore.proto.v1")


def _ws(runtime: LocalRuntime) -> str:
    token = local_token(f"player-{time.time_ns()}", "demo")
    return f"ws://127.0.0.1:{runtime.options.port}/ws?token={token}"


async def _answers(ws: Any, frame: dict[str, Any] | str, timeout_s: float = 60) -> list[bytes]:
    """Send one frame (a protobuf frame: its wrapped text frame) and read what answers it, raw:
    tokens, then the frame that ends the request."""
    await ws.send(frame if isinstance(frame, str) else json.dumps(wrap_client(frame)))
    received: list[bytes] = []
    while True:
        raw = await asyncio.wait_for(ws.recv(), timeout=timeout_s)
        assert isinstance(raw, bytes), f"a text frame on a protobuf connection: {raw!r}"
        kind = decode_server(raw)["type"]
        if kind in PUSHES:  # a quest offered after the turn reaches the connection too
            continue
        received.append(raw)
        if kind != "npc.token":
            return received


async def _talk_in_protobuf(url: str) -> dict[str, Any]:
    async with websockets.connect(url, subprotocols=[PROTO], max_size=None) as ws:
        hello = await _answers(ws, {"action": "connection.hello", "request_id": "h1"})
        said = {"action": "npc.say", "request_id": "s1", "npc_id": "borin", "text": "Any ale left tonight?"}
        turn = await _answers(ws, said, timeout_s=TURN_S)
        garbage = "".join(map(chr, random.Random(7).choices(range(65, 91), k=40)))
        broken = await _answers(
            ws, json.dumps({"action": "npc.say", "proto": base64.b64encode(garbage.encode()).decode()})
        )
        truncated = json.dumps(
            wrap_client(said) | {"proto": base64.b64encode(b"\x0a\x30\x0a\x02s2").decode()}
        )
        cut = await _answers(ws, truncated)
        pong = await _answers(ws, {"action": "ping", "request_id": "k1"})
        return {
            "subprotocol": ws.subprotocol,
            "hello": [decode_server(f) for f in hello],
            "turn": [decode_server(f) for f in turn],
            "broken": [decode_server(f) for f in broken],
            "cut": [decode_server(f) for f in cut],
            "pong": [decode_server(f) for f in pong],
        }


def test_a_protobuf_client_talks_to_an_npc_in_binary_frames(runtime: LocalRuntime) -> None:
    # Given a client that negotiates aicore.proto.v1
    seen = asyncio.run(_talk_in_protobuf(_ws(runtime)))

    # Then the handshake names it, and connection.welcome says so too
    assert seen["subprotocol"] == "aicore.proto.v1"
    [welcome] = seen["hello"]
    assert (welcome["type"], welcome["data"]["protocol"]) == ("connection.welcome", "aicore.proto.v1")
    # And npc.say streams binary npc.token frames, then the typed npc.reply, all for its request id
    *tokens, reply = seen["turn"]
    assert tokens
    assert {t["type"] for t in tokens} == {"npc.token"}
    assert {t["request_id"] for t in [*tokens, reply]} == {"s1"}
    assert (reply["type"], reply["ok"]) == ("npc.reply", True)
    assert reply["data"]["npc_id"] == "borin"
    assert reply["data"]["text"]
    assert reply["data"]["seq"] >= 1
    # And bytes that are no ClientFrame, or a truncated one, get an error frame in the envelope
    for answer in (seen["broken"], seen["cut"]):
        [error] = answer
        assert (error["type"], error["ok"], error["error"]["code"]) == ("error", False, "invalid_request")
        assert "ClientFrame" in error["error"]["message"]
    # And the connection keeps serving
    [pong] = seen["pong"]
    assert (pong["type"], pong["request_id"], pong["ok"]) == ("pong", "k1", True)


def test_a_json_client_on_the_same_runtime_still_speaks_json(runtime: LocalRuntime) -> None:
    hello = {"action": "connection.hello", "request_id": "h1"}
    pong, welcome = final_answers(_ws(runtime), [{"action": "ping", "request_id": "k1"}, hello])
    assert (pong["type"], pong["ok"]) == ("pong", True)
    assert welcome["data"]["protocol"] == "aicore.json.v1"


async def _send_binary(url: str) -> int | None:
    async with websockets.connect(url, subprotocols=[PROTO]) as ws:
        await ws.send(b"\x0a\x00")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), timeout=30)
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_a_binary_frame_is_cut_off_with_1003_as_api_gateway_does(runtime: LocalRuntime) -> None:
    assert asyncio.run(_send_binary(_ws(runtime))) == 1003
