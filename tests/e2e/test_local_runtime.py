"""`aicore local` as a subprocess, driven by real clients: a turn, the session over HTTP, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from aicore.auth import Role
from aicore.local.runtime import local_token
from tests.clients import exchange, http_json
from tests.e2e.local_process import LocalProcess
from tests.waiting import eventually

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def local() -> Iterator[LocalProcess]:
    """One `aicore local` for the module; stopped by SIGTERM within a bound, killed if it hangs."""
    with LocalProcess() as running:
        yield running
        running.stop()
        assert running.process is not None
        assert running.process.returncode == 0, running.output


def _say(request_id: str, **fields: Any) -> str:
    return json.dumps(
        {"action": "npc.say", "request_id": request_id, "npc_id": "mira", "text": "Hello!"} | fields
    )


def test_a_turn_streams_and_is_stored(local: LocalProcess) -> None:
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


def test_bad_frames_get_error_frames_and_the_server_keeps_serving(local: LocalProcess) -> None:
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
def test_bad_or_missing_token_is_refused(local: LocalProcess, token: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        exchange(f"ws://127.0.0.1:{local.port}/ws?token={token}", [])
    assert refused.value.response.status_code == 401
    # and the server still accepts good connections
    assert exchange(local.ws(), [_say("ok")])[-1]["ok"]


def test_the_demo_lore_is_ingested_with_the_embed_tier_and_filtered_per_npc(local: LocalProcess) -> None:
    # Given `aicore local` as `make run` starts it: the demo world's lore goes through the real flow,
    # its vectors from the embed tier (all-MiniLM-L6-v2 on the local model server)
    studio = local_token("studio-1", "demo", (Role.STUDIO,))

    def ingested() -> list[dict[str, Any]] | None:
        status, body = http_json(f"{local.base}/worlds/demo/lore/documents", studio)
        assert status == 200, body
        found: list[dict[str, Any]] = body["data"]["documents"]
        return found if len(found) == 4 and all(d["status"] != "ingesting" for d in found) else None

    documents = eventually(ingested, timeout_s=300, what="the demo lore ingested")
    failed = [(d["title"], d.get("reason")) for d in documents if d["status"] != "ready"]
    assert not failed, f"{failed}; aicore local said:\n{local.output[-6000:]}"
    # When Sable and Mira are asked where the old king hides
    query = f"{local.base}/worlds/demo/lore/search?q=where+does+the+old+king+hide&limit=3"
    status, sable = http_json(f"{query}&npc=sable", studio)
    status_mira, mira = http_json(f"{query}&npc=mira", studio)
    # Then only Sable finds the letters (with a vector score: the embed tier answered)
    assert (status, status_mira) == (200, 200)
    assert "crowned heron" in sable["data"]["results"][0]["text"]
    assert sable["data"]["results"][0]["scores"]["vector"] > 0
    assert all("crowned heron" not in r["text"] for r in mira["data"]["results"])
