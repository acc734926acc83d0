"""A region as it is now, narrated by the model through the router (templates when no tier answers),
and asked of the model again only when something it describes changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from aicore.auth import Caller, Role
from tests.edge_calls import PLAYER, HttpEdge, Reply
from tests.fakes import ScriptedEndpoint
from tests.npc_turns import virtual_router

GAME_SERVER = Caller(subject="gs", world_id="demo", roles=(Role.GAME_SERVER,))


class Wall:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _edge(endpoint: ScriptedEndpoint, at: datetime) -> tuple[HttpEdge, Wall]:
    wall = Wall(at)
    edge = HttpEdge(narrator=virtual_router(endpoint), world_time=wall)
    return edge, wall


def _region(edge: HttpEdge, region: str = "emberfall", caller: Caller = PLAYER) -> Reply:
    return edge.call("GET", f"/worlds/demo/regions/{region}", caller=caller)


def test_a_region_is_narrated_once_until_what_it_describes_changes() -> None:
    # Given the model answers, at 10:00 of day 1
    endpoint = ScriptedEndpoint(tokens=("Smoke ", "curls ", "over the forge."))
    edge, wall = _edge(endpoint, datetime(2026, 1, 1, 0, 10, tzinfo=UTC))
    # When a player reads Emberfall twice
    first, second = _region(edge), _region(edge)
    # Then the model wrote the narration once (silver first), and the second read was cached
    assert first.status == 200, first.body
    narration = first.body["data"]["narration"]
    assert (narration["text"], narration["source"], narration["tier"], narration["cached"]) == (
        "Smoke curls over the forge.",
        "model",
        "silver",
        False,
    )
    assert second.body["data"]["narration"]["cached"] is True
    assert endpoint.calls == ["silver"]
    data = first.body["data"]
    assert data["region"]["name"] == "Emberfall"
    assert (data["clock"]["hour"], data["clock"]["part_of_day"]) == (10, "morning")
    assert set(data["weather"]) == {"condition", "temperature_c", "wind_kph"}
    prompt = endpoint.last_messages[-1].content
    assert "Place: Emberfall." in prompt
    assert "Time: morning, 10:00" in prompt
    # When a fact of another region changes: still cached; one of Emberfall's: narrated anew
    put = {"if-match": "0"}
    edge.call(
        "PUT",
        "/worlds/demo/facts/toll",
        body=json.dumps({"value": 2, "region": "north-pass"}).encode(),
        headers=put,
        caller=GAME_SERVER,
    )
    assert _region(edge).body["data"]["narration"]["cached"] is True
    edge.call(
        "PUT",
        "/worlds/demo/facts/forge_cold",
        body=json.dumps({"value": True, "region": "emberfall"}).encode(),
        headers=put,
        caller=GAME_SERVER,
    )
    changed = _region(edge)
    assert changed.body["data"]["narration"]["cached"] is False
    assert changed.body["data"]["facts"]["forge_cold"] == {"value": True, "version": 1, "region": "emberfall"}
    assert "True now: forge cold = true" in endpoint.last_messages[-1].content
    # When evening falls (8 game hours later: 40 real minutes)
    wall.at += timedelta(minutes=40)
    evening = _region(edge)
    assert (evening.body["data"]["clock"]["part_of_day"], evening.body["data"]["narration"]["cached"]) == (
        "evening",
        False,
    )
    assert endpoint.calls == ["silver"] * 3


def test_without_a_model_the_region_is_narrated_from_templates_and_the_model_asked_later() -> None:
    # Given neither tier answers
    endpoint = ScriptedEndpoint(failing={"gold", "silver"})
    edge, wall = _edge(endpoint, datetime(2026, 1, 1, 2, tzinfo=UTC))  # 08:00 of day 2
    # When a region is read
    reply = _region(edge, "lake-shore")
    # Then its narration comes from templates and says where and when
    narration = reply.body["data"]["narration"]
    assert (narration["source"], narration["tier"]) == ("template", "scripted")
    assert narration["text"].startswith("Morning in The lake shore, in spring: ")
    assert "Reeds and black stones along the lake east of town." in narration["text"]
    calls = len(endpoint.calls)
    # And it is kept a few minutes, then the model is asked again (it is back)
    assert _region(edge, "lake-shore").body["data"]["narration"]["cached"] is True
    assert len(endpoint.calls) == calls
    endpoint.failing.clear()
    wall.at += timedelta(seconds=10)  # two game minutes: the part of day holds
    assert _region(edge, "lake-shore").body["data"]["narration"]["source"] == "template"
    wall.at += timedelta(minutes=5)
    again = _region(edge, "lake-shore").body["data"]["narration"]
    assert (again["source"], again["cached"]) == ("model", False)


def test_unknown_regions_and_other_worlds() -> None:
    edge, _ = _edge(ScriptedEndpoint(), datetime(2026, 1, 1, tzinfo=UTC))
    missing = _region(edge, "atlantis")
    assert (missing.status, missing.body["error"]["code"]) == (404, "not_found")
    stranger = Caller(subject="p", world_id="other")
    assert _region(edge, caller=stranger).status == 403
