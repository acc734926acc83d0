"""Story arcs as content: `worlds/<world>/arcs/*.yaml`, validated with the rest of the world, every
mistake named by its file and field, pushed and diffed like the other items."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from aicore.auth import Caller, Role
from aicore.local.world_files import WorldFilesError, load_world_folder
from aicore.local.world_push import DEMO_WORLD
from aicore.world.push import PushDeps, push_world
from tests.fakes import FakeWorld
from tests.world_fakes import FakeLore, FakeWorldState, demo_content

STUDIO = Caller(subject="tools", world_id="demo", roles=(Role.STUDIO,))


def test_the_demo_world_has_two_arcs_that_fit_its_regions() -> None:
    arcs = {a.arc_id: a for a in demo_content().arcs}
    assert set(arcs) == {"pass-toll", "drowned-library"}
    toll = arcs["pass-toll"]
    assert [b.beat_id for b in toll.beats] == [
        "toll-raised",
        "caravans-stall",
        "storm-on-the-pass",
        "council-answers",
    ]
    assert toll.beats[0].when.facts[0].at_least == 3
    assert toll.beats[0].sets[0].key == "caravans_waiting"
    assert toll.beats[2].when.event is not None
    assert toll.beats[2].when.event.weather is not None


@pytest.fixture
def world_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    shutil.copytree(DEMO_WORLD, folder)
    return folder


def _edit_arc(folder: Path, change: Callable[[dict[str, Any]], object]) -> None:
    path = folder / "arcs/pass-toll.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def _first_beat(change: Callable[[dict[str, Any]], object]) -> Callable[[dict[str, Any]], object]:
    return lambda arc: change(arc["beats"][0])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            _first_beat(lambda b: b.update(region="atlantis")),
            "arcs/pass-toll.yaml: beats.0.region: there is no region 'atlantis'",
        ),
        (
            _first_beat(lambda b: b["when"]["facts"][0].update(region="moon")),
            "arcs/pass-toll.yaml: beats.0.when.facts.0.region: there is no region 'moon'",
        ),
        (
            _first_beat(lambda b: b["sets"][0].update(region="moon")),
            "arcs/pass-toll.yaml: beats.0.sets.0.region: there is no region 'moon'",
        ),
        (
            _first_beat(lambda b: b["when"].update(event={"weather": {"condition": "storm", "region": "x"}})),
            "arcs/pass-toll.yaml: beats.0.when.event.region: there is no region 'x'",
        ),
        (
            _first_beat(lambda b: b["when"].update(time={"seasons": ["monsoon"]})),
            "arcs/pass-toll.yaml: beats.0.when.time.seasons: there is no season 'monsoon'",
        ),
        (
            _first_beat(lambda b: b["when"].update(time={"parts_of_day": ["teatime"]})),
            "arcs/pass-toll.yaml: beats.0.when.time.parts_of_day: there is no part of the day 'teatime'",
        ),
        (
            _first_beat(lambda b: b["when"]["facts"][0].update(equals=3)),
            "arcs/pass-toll.yaml: beats.0.when.facts.0: Value error, give exactly one of 'equals'",
        ),
        (
            _first_beat(lambda b: b["when"].update(event={"weather": {"condition": "hail"}})),
            "arcs/pass-toll.yaml: beats.0.when.event.weather.condition:",
        ),
        (
            _first_beat(lambda b: b.update(mood="grim")),
            "arcs/pass-toll.yaml: beats.0.mood: Extra inputs are not permitted",
        ),
        (
            lambda arc: arc["beats"].append(dict(arc["beats"][0])),
            "arcs/pass-toll.yaml: beats: Value error, each beat id is used once (toll-raised",
        ),
        (
            lambda arc: arc.update(arc_id="other"),
            "arcs/pass-toll.yaml: arc_id: must be the file's name ('pass-toll') or left out",
        ),
        (_first_beat(lambda b: b.pop("narration")), "arcs/pass-toll.yaml: beats.0.narration: Field required"),
    ],
    ids=[
        "beat-region",
        "fact-region",
        "set-region",
        "event-region",
        "season",
        "part-of-day",
        "two-tests",
        "weather-condition",
        "unknown-field",
        "beat-twice",
        "id-not-file-name",
        "no-narration",
    ],
)
def test_every_mistake_in_an_arc_names_its_file_and_field(
    world_copy: Path, change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    _edit_arc(world_copy, change)
    with pytest.raises(WorldFilesError) as failed:
        load_world_folder(world_copy)
    problems = [str(p) for p in failed.value.problems]
    assert any(p.startswith(expected) for p in problems), problems


def test_arcs_are_pushed_and_diffed_with_the_rest_of_the_content() -> None:
    # Given the demo world pushed once
    state = FakeWorldState()
    deps = PushDeps(state, FakeWorld(), FakeLore())
    content = demo_content()
    first = push_world(deps, STUDIO, "demo", content, dry_run=False)
    assert {"arc:pass-toll", "arc:drowned-library"} <= set(first.added)
    definition = state.definition("demo")
    assert definition is not None
    assert [a.arc_id for a in definition.arcs] == ["drowned-library", "pass-toll"]
    # When one arc changes (a beat's scripted line)
    toll = next(a for a in content.arcs if a.arc_id == "pass-toll")
    beat = toll.beats[0].model_copy(update={"narration": "The toll doubles."})
    edited = toll.model_copy(update={"beats": (beat, *toll.beats[1:])})
    others = tuple(a for a in content.arcs if a.arc_id != "pass-toll")
    plan = push_world(deps, STUDIO, "demo", content.model_copy(update={"arcs": (*others, edited)}), False)
    # Then the plan names it, and the world's definition carries the new beat
    assert (plan.changed, plan.added, plan.removed) == (["arc:pass-toll"], [], [])
    stored = state.definition("demo")
    assert stored is not None
    assert next(a for a in stored.arcs if a.arc_id == "pass-toll").beats[0].narration == "The toll doubles."
