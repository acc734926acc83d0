"""Issue 8's findings, reproduced against the whole local backend (gateway, real handlers, moto):
bad input gets a clear 4xx in the envelope and the connection keeps serving; an expired token
closes its connection; players never see an NPC's private character sheet."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from aicore import aws
from aicore.auth import Caller, Role
from aicore.local.runtime import LocalRuntime, local_issuer, local_token
from aicore.settings import get_settings
from tests.clients import http_json
from tests.waiting import eventually

pytestmark = pytest.mark.model

MARKUP = "<svg onload=alert(1)>"


def ws_url(runtime: LocalRuntime, player: str) -> str:
    return f"ws://127.0.0.1:{runtime.options.port}/ws?token={local_token(player, 'demo')}"


def base(runtime: LocalRuntime) -> str:
    return f"http://127.0.0.1:{runtime.options.port}"


def history(request_id: str) -> str:
    return json.dumps({"action": "session.history", "request_id": request_id, "session_id": "ses_none"})


def test_bad_frames_get_clear_errors_and_the_connection_keeps_serving(runtime: LocalRuntime) -> None:
    bad_frames = {
        "[" * 1000 + "]" * 1000: "invalid_request",  # dropped the connection (RecursionError in routing)
        '{"action": "session.history", "x": ' + "[" * 1000 + "]" * 1000 + "}": "invalid_request",
        json.dumps(
            {
                "action": "session.history",
                "x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
            }
        ): ("invalid_request"),
        json.dumps({"action": "x" * 120_000, "request_id": "big"}): "unknown_action",  # was echoed whole
        '{"action": "session.history", "request_id": "s", "session_id": "\\ud800"}': "invalid_json",
    }
    with connect(ws_url(runtime, f"p-{uuid.uuid4().hex[:8]}"), max_size=None) as ws:
        for frame, code in bad_frames.items():
            ws.send(frame)
            answer = json.loads(ws.recv(timeout=30))
            assert (answer["type"], answer["error"]["code"]) == ("error", code), answer
            assert len(json.dumps(answer)) < 2048
        # And the same connection still serves
        ws.send(history("after"))
        after = json.loads(ws.recv(timeout=30))
    assert (after["request_id"], after["error"]["code"]) == ("after", "not_found")


def test_bad_http_input_is_a_clear_4xx_in_the_envelope(runtime: LocalRuntime) -> None:
    import urllib.error
    import urllib.request

    token = local_token(f"p-{uuid.uuid4().hex[:8]}", "demo")
    studio = local_token("tools", "demo", (Role.STUDIO,))

    def call(method: str, path: str, body: bytes | None, who: str, **headers: str) -> tuple[int, Any]:
        request = urllib.request.Request(
            base(runtime) + path,
            data=body,
            method=method,
            headers={"Authorization": f"Bearer {who}", "Content-Type": "application/json", **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    created = {"participants": [{"id": "tools", "kind": "npc"}], "metadata": {}}
    status, body = call("POST", "/sessions", json.dumps(created).encode(), studio)
    assert status == 201, body
    session = body["data"]["session_id"]
    cases = [
        # (method, path, body, headers, status, code): each of the first three answered 500
        ("POST", "/sessions", json.dumps(created).encode("utf-16"), {}, 400, "invalid_json"),
        ("PATCH", f"/sessions/{session}", b'{"metadata": {}}', {"If-Match": "²"}, 400, "invalid_request"),
        ("GET", f"/sessions/{session}/messages?limit=%E2%91%A0", None, {}, 400, "invalid_request"),
        (
            "PATCH",
            f"/sessions/{session}",
            b'{"metadata": {}}',
            {"If-Match": "9" * 5000},
            400,
            "invalid_request",
        ),
        (
            "PUT",
            "/worlds/demo/performance",
            b'{"mode": ' + b"[" * 1000 + b"]" * 1000 + b"}",
            {},
            400,
            "invalid_request",
        ),
        ("GET", "/sessions/%3Csvg%3E", None, {}, 404, "not_found"),
        ("GET", f"/sessions/{'s' * 3000}", None, {}, 404, "not_found"),
    ]
    for method, path, data, headers, expected, code in cases:
        status, answer = call(method, path, data, studio, **headers)
        assert (status, answer["error"]["code"]) == (expected, code), (method, path, answer)
        assert "svg" not in json.dumps(answer["error"])
    # A correlation id that is not a plain id is not trusted: the request id stands in for it
    status, answer = call("GET", f"/sessions/{session}", None, studio, **{"X-Correlation-Id": MARKUP})
    assert status == 200
    assert MARKUP not in json.dumps(answer)
    # API Gateway's own answers stay API Gateway's (not our envelope)
    assert http_json(f"{base(runtime)}/nowhere", token) == (404, {"message": "Not Found"})


def test_players_see_npc_profiles_and_the_studio_sees_character_sheets(runtime: LocalRuntime) -> None:
    status, players = http_json(f"{base(runtime)}/worlds/demo/npcs", local_token("p", "demo"))
    assert status == 200
    assert players["data"]["view"] == "profile"
    titles = {n["npc_id"]: n["title"] for n in players["data"]["npcs"]}
    assert titles["sable"] == "Hooded wanderer"
    assert all(
        set(n) == {"npc_id", "world_id", "name", "title", "greeting", "faction", "region"}
        for n in players["data"]["npcs"]
    )
    status, studio = http_json(f"{base(runtime)}/worlds/demo/npcs", local_token("s", "demo", (Role.STUDIO,)))
    assert studio["data"]["view"] == "sheet"
    sable = next(n for n in studio["data"]["npcs"] if n["npc_id"] == "sable")
    # Sable's secret reaches the studio, and nothing of her sheet reaches a player
    assert sable["secrets"]
    assert sable["persona"]
    for private in (sable["persona"], sable["speech_style"], *sable["secrets"], *sable["fallback_lines"]):
        assert private not in json.dumps(players)


def test_a_connection_whose_token_expired_is_refused_and_closed(runtime: LocalRuntime) -> None:
    # Given a connection opened with a token that lives two seconds
    player = f"p-{uuid.uuid4().hex[:8]}"
    token = local_issuer().issue(Caller(subject=player, world_id="demo"), ttl_s=2)
    connections: Any = aws.table(get_settings().connections_table)  # raw items, read by hand
    url = f"ws://127.0.0.1:{runtime.options.port}/ws?token={token}"
    with connect(url) as ws:
        # When the client keeps sending frames (each answered while the token lives) past the expiry
        def refused() -> dict[str, Any] | None:
            ws.send(history("after"))
            found: dict[str, Any] = json.loads(ws.recv(timeout=30))
            return found if found["error"]["code"] == "unauthorized" else None

        answer = eventually(refused, timeout_s=60, what="a frame refused once the token expired")
        # Then that frame is refused, telling the client to reconnect, and the connection closes
        assert answer["request_id"] == "after"
        assert answer["error"]["details"] == {"reconnect": True}
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=30)
    # And $disconnect forgets it (it runs after the close)
    eventually(
        lambda: (
            not [  # (the table holds turn budgets too: items without a caller)
                i for i in connections.scan()["Items"] if i.get("caller", {}).get("subject") == player
            ]
        ),
        timeout_s=30,
        what="the connection record gone with its connection",
    )
