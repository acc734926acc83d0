"""Protocol v2 connection frames through the real ws-default handler: `ping` -> `pong`,
`connection.hello` -> `connection.welcome` with a resume token only its player can use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aicore.auth import Caller
from aicore.errors import Forbidden
from aicore.platform.settings import SettingsCache
from aicore.protocol import RESUME_TOKEN_TTL_S, ConnectionFrameDeps, resume_player, token_hash
from tests.fakes import FakePusher
from tests.handlers import invoke
from tests.npc_turns import CONNECTION, PLAYER, connected
from tests.platform_fakes import roomy_settings
from tests.protocol_fakes import FakeResumeTokens

NOW = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)


def _deps() -> ConnectionFrameDeps:
    return ConnectionFrameDeps(
        pusher=FakePusher(),
        resume_tokens=FakeResumeTokens(),
        settings=SettingsCache(roomy_settings()),
        clock=lambda: NOW,
    )


def _send(deps: ConnectionFrameDeps, frame: dict[str, Any], caller: Caller = PLAYER) -> dict[str, Any]:
    event = connected(json.dumps(frame), caller, route_key=frame["action"])
    assert invoke("ws-default", event, deps=deps) == {"statusCode": 200}
    assert isinstance(deps.pusher, FakePusher)
    connection_id, answer = deps.pusher.frames[-1]
    assert connection_id == CONNECTION
    return answer


def test_ping_is_answered_with_pong_carrying_the_request_id_and_the_server_time() -> None:
    answer = _send(_deps(), {"action": "ping", "request_id": "k-1"})

    assert (answer["type"], answer["request_id"], answer["ok"]) == ("pong", "k-1", True)
    assert answer["data"] == {"server_time": NOW.isoformat()}


def test_hello_is_welcomed_with_a_resume_token_the_protocol_and_the_capabilities() -> None:
    deps = _deps()

    answer = _send(deps, {"action": "connection.hello", "request_id": "h-1", "client": "unity/1.5.0"})

    assert (answer["type"], answer["request_id"], answer["ok"]) == ("connection.welcome", "h-1", True)
    data = answer["data"]
    assert data["protocol"] == "aicore.json.v1"
    assert "connection.hello" in data["capabilities"]["client_frames"]
    assert "connection.welcome" in data["capabilities"]["server_frames"]
    assert data["capabilities"]["world"]["world_id"] == PLAYER.world_id
    # The table keeps the token's hash only, naming the player, for a day
    assert isinstance(deps.resume_tokens, FakeResumeTokens)
    grant = deps.resume_tokens.grants[token_hash(data["resume_token"])]
    assert data["resume_token"] not in json.dumps(deps.resume_tokens.grants, default=str)
    assert (grant.subject, grant.world_id) == (PLAYER.subject, PLAYER.world_id)
    assert grant.expires_at == int(NOW.timestamp()) + RESUME_TOKEN_TTL_S


def test_two_hellos_get_two_different_tokens() -> None:
    deps = _deps()
    first = _send(deps, {"action": "connection.hello", "request_id": "h-1"})["data"]["resume_token"]
    second = _send(deps, {"action": "connection.hello", "request_id": "h-2"})["data"]["resume_token"]
    assert first != second
    assert len(first) >= 43


def test_a_resume_token_serves_its_player_only_and_not_after_it_expires() -> None:
    deps = _deps()
    token = _send(deps, {"action": "connection.hello", "request_id": "h-1"})["data"]["resume_token"]

    assert resume_player(deps.resume_tokens, token, PLAYER, deps.clock).subject == PLAYER.subject
    with pytest.raises(Forbidden):  # another player
        resume_player(deps.resume_tokens, token, Caller(subject="p2", world_id="demo"), deps.clock)
    with pytest.raises(Forbidden):  # the same player in another world
        resume_player(deps.resume_tokens, token, Caller(subject="p1", world_id="other"), deps.clock)
    with pytest.raises(Forbidden):  # a forged token
        resume_player(deps.resume_tokens, token + "x", PLAYER, deps.clock)
    later = NOW + timedelta(seconds=RESUME_TOKEN_TTL_S)
    with pytest.raises(Forbidden):
        resume_player(deps.resume_tokens, token, PLAYER, lambda: later)


@pytest.mark.parametrize(
    "frame",
    [
        {"action": "ping"},  # no request id
        {"action": "ping", "request_id": "k", "extra": 1},
        {"action": "connection.hello", "request_id": "h", "client": "bad client!"},
        {"action": "connection.hello", "request_id": "h", "client": "x" * 101},
    ],
)
def test_bad_connection_frames_get_an_invalid_request_error(frame: dict[str, Any]) -> None:
    answer = _send(_deps(), frame)
    assert (answer["type"], answer["error"]["code"]) == ("error", "invalid_request")
