"""The NPC turn knows the world around the NPC: its region's time, weather and facts, in the prompt
within a budget and in a studio's debug context; read beside the turn's other reads."""

from __future__ import annotations

from datetime import UTC, datetime

from aicore.auth import Caller, Role
from aicore.npc.prompt import WORLD_PROMPT_CHARS
from aicore.npc.turn import TurnDeps
from aicore.world.definition import WorldDefinition
from aicore.world.models import Npc
from aicore.world.state import Fact
from tests.fakes import FakeWorld, ScriptedEndpoint
from tests.npc_turns import MIRA, say, turn_deps
from tests.world_fakes import FakeWorldState, demo_content

AT = datetime(2026, 1, 1, 1, 5, tzinfo=UTC)  # 65 real minutes after the demo's epoch: 21:00 of day 1
STUDIO = Caller(subject="tester", world_id="demo", roles=(Role.STUDIO,))
AROUND = "Around you now: "


def _fact(key: str, value: object, region: str | None = None, version: int = 1) -> Fact:
    return Fact(key=key, value=value, version=version, region=region, updated_at="t", updated_by="s")


def _pushed_world() -> FakeWorldState:
    state = FakeWorldState()
    state.put_definition(WorldDefinition.of(demo_content(), 1))
    state.facts["demo"] = {
        "ale_price": _fact("ale_price", "two coppers", region="emberfall"),
        "toll": _fact("toll", {"silver": 2}, region="north-pass"),
        "king_returns": _fact("king_returns", False),
    }
    return state


def _deps(state: FakeWorldState, region: str | None = "emberfall") -> tuple[TurnDeps, ScriptedEndpoint]:
    endpoint = ScriptedEndpoint()
    deps = turn_deps(FakeWorld(), endpoint, world_state=state)
    deps.world.put_npc(Npc.model_validate({**MIRA.model_dump(), "region": region}))
    deps.clock = lambda: AT
    return deps, endpoint


def _world_line(endpoint: ScriptedEndpoint) -> str | None:
    system = endpoint.last_messages[0].content
    return next((line[len(AROUND) :] for line in system.splitlines() if line.startswith(AROUND)), None)


def test_the_prompt_knows_the_npcs_region_time_weather_and_facts_and_debug_shows_them() -> None:
    # Given the demo world pushed, facts of Mira's region, of another region and of the world
    state = _pushed_world()
    deps, endpoint = _deps(state)
    # When a studio talks to Mira with debug
    [reply] = say(deps, STUDIO, debug=True).of_type("npc.reply")
    # Then the world was read once, beside the other reads
    assert state.reads == 1
    # And the prompt says the time, the weather in Emberfall and the facts that concern it
    around = _world_line(endpoint)
    assert around is not None
    assert around.startswith("It is evening (21:00) on day 1 of spring. In Emberfall the weather is ")
    assert around.endswith("What is true now: ale price: two coppers; king returns: false.")
    assert "toll" not in around  # the north pass's fact is not Mira's business
    # And the debug context shows exactly the lines the prompt got
    world = reply["data"]["context"]["world"]
    assert (world["region_id"], world["region_name"], world["state_version"]) == ("emberfall", "Emberfall", 0)
    assert " ".join(world["lines"]) == around


def test_a_player_gets_no_world_context() -> None:
    deps, endpoint = _deps(_pushed_world())
    [reply] = say(deps).of_type("npc.reply")
    assert reply["data"]["context"] is None
    assert _world_line(endpoint) is not None  # the NPC still knows it


def test_an_npc_in_no_region_knows_the_time_and_the_worlds_facts() -> None:
    deps, endpoint = _deps(_pushed_world(), region=None)
    [reply] = say(deps, STUDIO, debug=True).of_type("npc.reply")
    assert (
        _world_line(endpoint)
        == "It is evening (21:00) on day 1 of spring. What is true now: king returns: false."
    )
    assert reply["data"]["context"]["world"]["region_id"] is None


def test_a_world_never_pushed_still_has_its_turn() -> None:
    deps, endpoint = _deps(FakeWorldState())
    [reply] = say(deps, STUDIO, debug=True).of_type("npc.reply")
    assert reply["ok"]
    assert reply["data"]["text"] == "Well met, traveller."
    assert _world_line(endpoint) is None
    assert reply["data"]["context"]["world"] is None


def test_many_long_facts_keep_the_world_within_its_budget() -> None:
    # Given forty long rumours about Emberfall
    state = _pushed_world()
    state.facts["demo"] |= {
        f"rumour_{i}": _fact(f"rumour_{i}", "a long tale " * 30, region="emberfall") for i in range(40)
    }
    deps, endpoint = _deps(state)
    # When Mira answers
    [reply] = say(deps, STUDIO, debug=True).of_type("npc.reply")
    # Then the world's part of the prompt keeps to its budget, and still says the time and weather
    lines = reply["data"]["context"]["world"]["lines"]
    assert sum(len(line) + 1 for line in lines) <= WORLD_PROMPT_CHARS + 1
    assert lines[0].startswith("It is evening")
    assert lines[1].startswith("In Emberfall")
    assert _world_line(endpoint) == " ".join(lines)
