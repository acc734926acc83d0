"""Quest templates as content: `worlds/<world>/quests/*.yaml`, checked, pushed, listed."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from aicore.local.world_files import WorldFilesError, load_world_folder
from aicore.local.world_push import DEMO_WORLD
from aicore.world.content import ObjectiveKind
from aicore.world.push import PushDeps, push_world
from tests.edge_calls import STUDIO
from tests.fakes import FakeWorld
from tests.world_fakes import FakeLore, FakeWorldState, demo_content


def test_the_demo_world_has_quests_its_npcs_give() -> None:
    content = demo_content()
    npcs = {n.npc_id: n for n in content.npcs}
    assert len(content.quests) >= 4
    assert all(q.giver in npcs for q in content.quests)
    assert all(npcs[q.giver].goals for q in content.quests)  # the generator serves the giver's goals
    kinds = {o.kind for q in content.quests for o in q.objectives}
    assert {ObjectiveKind.VISIT, ObjectiveKind.COLLECT, ObjectiveKind.DEFEAT} <= kinds
    assert any(q.rewards.facts for q in content.quests)
    assert all(q.rewards.relationship.trust or q.rewards.relationship.affinity for q in content.quests)


@pytest.fixture
def world_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    shutil.copytree(DEMO_WORLD, folder)
    return folder


def _edit(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (
            lambda d: d.update(giver="nobody"),
            "quests/wolves-on-the-roads.yaml: giver: there is no NPC 'nobody'",
        ),
        (
            lambda d: d["objectives"][0].update(target="atlantis"),
            "quests/wolves-on-the-roads.yaml: objectives.0.target: there is no region 'atlantis'",
        ),
        (
            lambda d: d["objectives"][1].update(count=0),
            "quests/wolves-on-the-roads.yaml: objectives.1.count:",
        ),
        (
            lambda d: d["objectives"][1].update(kind="dance"),
            "quests/wolves-on-the-roads.yaml: objectives.1.kind:",
        ),
        (
            lambda d: d["rewards"]["relationship"].update(trust=90),
            "quests/wolves-on-the-roads.yaml: rewards.relationship.trust:",
        ),
        (
            lambda d: d["objectives"].append(dict(d["objectives"][0])),
            "quests/wolves-on-the-roads.yaml: objectives: Value error, each objective id is used once",
        ),
        (lambda d: d.update(reward=5), "quests/wolves-on-the-roads.yaml: reward: Extra inputs"),
    ],
    ids=["unknown-giver", "unknown-region", "zero-count", "unknown-kind", "too-much-trust", "twice", "typo"],
)
def test_a_broken_quest_template_names_its_file_and_field(
    world_copy: Path, break_it: Callable[[dict[str, Any]], object], expected: str
) -> None:
    _edit(world_copy / "quests/wolves-on-the-roads.yaml", break_it)
    with pytest.raises(WorldFilesError) as failed:
        load_world_folder(world_copy)
    problems = [str(p) for p in failed.value.problems]
    assert any(p.startswith(expected) for p in problems), problems


def test_pushed_templates_are_stored_and_removed_ones_deleted() -> None:
    # Given the demo world pushed once
    state = FakeWorldState()
    deps = PushDeps(content=state, world=FakeWorld(), lore=FakeLore())
    plan = push_world(deps, STUDIO, "demo", demo_content(), dry_run=False)
    assert "quest:wolves-on-the-roads" in plan.added
    assert len(state.quest_templates("demo")) == 4
    # When it is pushed again without one template
    content = demo_content()
    smaller = content.model_copy(update={"quests": content.quests[1:]})
    plan = push_world(deps, STUDIO, "demo", smaller, dry_run=False)
    # Then that template is gone
    assert plan.removed == [f"quest:{content.quests[0].template_id}"]
    assert content.quests[0].template_id not in {t.template_id for t in state.quest_templates("demo")}
