"""What an NPC's turn will know of the world: its region's time, weather and facts, within a budget."""

from __future__ import annotations

from datetime import UTC, datetime

from aicore.world.definition import WorldDefinition
from aicore.world.now import read_world_now
from aicore.world.state import Fact
from tests.world_fakes import FakeWorldState, demo_content

AT = datetime(2026, 1, 1, 1, 5, tzinfo=UTC)  # 65 real minutes after the epoch: 21:00 of day 1


def _fact(key: str, value: object, version: int = 1, region: str | None = None) -> Fact:
    return Fact(key=key, value=value, version=version, region=region, updated_at="t", updated_by="s")


def _world() -> FakeWorldState:
    state = FakeWorldState()
    state.put_definition(WorldDefinition.of(demo_content(), 1))
    state.facts["demo"] = {
        "bridge_out": _fact("bridge_out", True, region="the-roads"),
        "toll": _fact("toll", {"silver": 2}, 3, region="north-pass"),
        "king_returns": _fact("king_returns", False, 2),
    }
    return state


def test_an_npc_knows_its_regions_time_weather_and_facts_in_one_read() -> None:
    state = _world()
    now = read_world_now(state, "demo", "north-pass", lambda: AT)
    assert now is not None
    assert state.reads == 1
    assert (now.clock.day, now.clock.hour, now.clock.part_of_day, now.clock.season) == (
        1,
        21,
        "evening",
        "spring",
    )
    assert now.region_name == "The north pass"
    assert now.weather is not None
    assert list(now.facts) == ["toll", "king_returns"]  # the region's, then the world's; not the roads'
    lines = now.prompt_lines()
    assert lines[0] == "It is evening (21:00) on day 1 of spring."
    assert lines[1].startswith(f"In The north pass the weather is {now.weather.condition.value}, ")
    assert lines[2] == 'What is true now: toll: {"silver":2}; king returns: false.'


def test_the_prompt_lines_keep_to_their_budget() -> None:
    state = _world()
    state.facts["demo"] |= {f"rumour_{i}": _fact(f"rumour_{i}", "x" * 200, 1) for i in range(20)}
    now = read_world_now(state, "demo", "emberfall", lambda: AT)
    assert now is not None
    for budget in (40, 120, 300, 600, 2000):
        assert sum(len(line) + 1 for line in now.prompt_lines(budget)) <= budget + 1
    assert all("…" in line for line in now.prompt_lines(2000)[2:])


def test_an_npc_in_no_region_knows_the_time_and_the_worlds_facts() -> None:
    now = read_world_now(_world(), "demo", None, lambda: AT)
    assert now is not None
    assert (now.weather, now.region_id) == (None, None)
    assert list(now.facts) == ["king_returns"]
    assert read_world_now(FakeWorldState(), "void", "x", lambda: AT) is None
