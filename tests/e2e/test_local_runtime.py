"""`aicore local` as a subprocess, driven by real clients: a turn, the session over HTTP, bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from aicore.local.embedded_aws import free_port
from tests.clients import exchange, http_json

pytestmark = pytest.mark.model
READY_TIMEOUT_S = 120


@dataclass
class Running:
    port: int
    token: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, token: str | None = None) -> str:
        return f"ws://127.0.0.1:{self.port}/ws?token={token or self.token}"


@pytest.fixture(scope="module")
def local() -> Iterator[Running]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "aicore.local.cli", "local", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ.copy(),
    )
    assert process.stdout is not None
    banner = _read_banner(process)
    token = re.search(r"token\s+(\S+)", banner)
    assert token, banner
    yield Running(port, token.group(1))
    process.terminate()
    process.wait(timeout=60)
    assert process.returncode == 0


def _read_banner(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if line.startswith("Ctrl-C"):
            return "".join(lines)
    process.kill()
    raise AssertionError("aicore local did not become ready:\n" + "".join(lines))


def _say(request_id: str, **fields: Any) -> str:
    return json.dumps(
        {"action": "npc.say", "request_id": request_id, "npc_id": "mira", "text": "Hello!"} | fields
    )


def test_a_turn_streams_and_is_stored(local: Running) -> None:
    answers = exchange(local.ws(), [_say("e2e-1", text="Do you have a room for the night?")])
    *tokens, reply = answers
    assert tokens, "the reply must stream token by token"
    assert reply["type"] == "npc.reply"
    assert reply["ok"]
    assert reply["request_id"] == "e2e-1"
    assert set(reply) >= {"ok", "service", "operation", "correlation_id", "duration_ms", "data", "error"}
    status, body = http_json(f"{local.base}/sessions/{reply['data']['session_id']}", local.token)
    assert status == 200
    assert [m["text"] for m in body["data"]["messages"]][-2:] == [
        "Do you have a room for the night?",
        reply["data"]["text"],
    ]


BAD_FRAMES = [
    ("not json", "{nope", "invalid_json"),
    ("unknown action", json.dumps({"action": "npc.dance", "request_id": "b2"}), "unknown_action"),
    ("missing fields", json.dumps({"action": "npc.say", "request_id": "b3"}), "invalid_request"),
    ("wrong types", _say("b4", npc_id=["mira"], text=7), "invalid_request"),
    ("over 128 KB", _say("b5", text="x" * (129 * 1024)), "payload_too_large"),
    ("unknown NPC", _say("b6", npc_id="nobody"), "not_found"),
]


def test_bad_frames_get_error_frames_and_the_server_keeps_serving(local: Running) -> None:
    frames = [frame for _, frame, _ in BAD_FRAMES] + [_say("after")]
    answers = exchange(local.ws(), frames)
    errors = [a for a in answers if a["type"] == "error"]
    assert [e["error"]["code"] for e in errors] == [code for _, _, code in BAD_FRAMES]
    for error in errors:
        assert not error["ok"]
        assert error["error"]["message"]
        assert "Traceback" not in json.dumps(error)
    assert answers[-1]["type"] == "npc.reply"
    assert answers[-1]["ok"]


@pytest.mark.parametrize("token", ["not-a-jwt", ""])
def test_bad_or_missing_token_is_refused(local: Running, token: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        exchange(f"ws://127.0.0.1:{local.port}/ws?token={token}", [])
    assert refused.value.response.status_code == 401
    # and the server still accepts good connections
    assert exchange(local.ws(), [_say("ok")])[-1]["ok"]
