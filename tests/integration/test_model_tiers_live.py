"""NPC turns through the whole local runtime, when a tier fails and in each performance mode."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from aicore.auth import Role
from aicore.local.faults import Fault, FaultKind
from aicore.local.runtime import ENV, LocalRuntime, local_token
from aicore.topology import physical_name
from tests.clients import final_answers

pytestmark = [pytest.mark.model, pytest.mark.timeout(120)]

SILVER = physical_name(ENV, "silver")


def turn(runtime: LocalRuntime, token: str) -> dict[str, Any]:
    say = {"action": "npc.say", "request_id": "t1", "npc_id": "borin", "text": "Good morning!"}
    [reply] = final_answers(f"ws://127.0.0.1:{runtime.options.port}/ws?token={token}", [say])
    assert reply["ok"], reply
    data: dict[str, Any] = reply["data"]
    print(data["tier"], data["fallback_reason"], data["timings"])  # shown when a test fails
    return data


def put(runtime: LocalRuntime, path: str, body: dict[str, Any], token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{runtime.options.port}{path}",
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def player() -> str:
    return local_token(f"player-{time.time_ns()}", "demo")


@pytest.fixture
def silver_throttled(runtime: LocalRuntime) -> Iterator[None]:
    runtime.faults.inject(Fault(endpoint=SILVER, kind=FaultKind.THROTTLING, times=1))
    yield
    runtime.faults.clear()


def set_mode(runtime: LocalRuntime, player: str, mode: str) -> dict[str, Any]:
    status, body = put(runtime, "/worlds/demo/players/me/performance", {"mode": mode}, player)
    assert status == 200, body
    data: dict[str, Any] = body["data"]
    return data


def test_a_throttled_tier_falls_back_to_the_other_one_and_the_reply_says_so(
    runtime: LocalRuntime, player: str, silver_throttled: None
) -> None:
    # Given a player in quality mode (silver, 1 s budget: 100 s on this CPU), and silver throttling
    set_mode(runtime, player, "quality")

    # When the player speaks, gold answers instead, and the reply says why
    data = turn(runtime, player)

    assert (data["tier"], data["fallback"]) == ("gold", True)
    assert data["fallback_reason"] == "silver: ThrottlingException"
    assert data["text"]
    assert data["timings"]["prompt_tokens"] > 0


def test_a_player_in_quality_mode_is_answered_by_silver(runtime: LocalRuntime, player: str) -> None:
    view = set_mode(runtime, player, "quality")
    assert (view["effective"], view["first_token_budget_ms"]) == ("quality", 1000)

    data = turn(runtime, player)

    assert (data["tier"], data["fallback"], data["mode"]) == ("silver", False, "quality")


def test_the_studio_sets_the_worlds_mode_and_players_follow_it(runtime: LocalRuntime, player: str) -> None:
    studio = local_token("studio-1", "demo", (Role.STUDIO,))
    assert put(runtime, "/worlds/demo/performance", {"mode": "fast"}, player)[0] == 403
    assert put(runtime, "/worlds/demo/performance", {"mode": "turbo"}, studio)[0] == 400
    try:
        status, body = put(runtime, "/worlds/demo/performance", {"mode": "fast"}, studio)
        assert (status, body["data"]["world_mode"]) == (200, "fast")

        data = turn(runtime, player)
        assert data["mode"] == "fast"
        assert data["timings"]["tokens"] <= 40  # the fast mode's reply length
    finally:
        put(runtime, "/worlds/demo/performance", {"mode": "balanced"}, studio)
