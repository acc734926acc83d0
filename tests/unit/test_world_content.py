"""World content as data: the demo world's folder, errors that name the file and the field, and
pushes (a versioned diff, dry runs, idempotent re-pushes) through the real handler over fakes."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from aicore.auth import Caller, Role
from aicore.errors import Conflict, Forbidden, InvalidRequest
from aicore.local.world_files import WorldFilesError, load_world_folder
from aicore.local.world_push import DEMO_WORLD, describe
from aicore.world.content import WorldContent, content_items
from aicore.world.push import PushDeps, push_world
from tests.edge_calls import PLAYER, STUDIO, HttpEdge
from tests.fakes import FakeWorld
from tests.world_fakes import FakeLore, FakeWorldState, demo_content


def test_the_demo_world_is_small_but_real() -> None:
    content = demo_content()
    assert len(content.regions) >= 3
    assert len(content.factions) >= 2
    assert len(content.npcs) >= 6
    assert any(f.language is not None for f in content.factions)
    npcs = {n.npc_id: n for n in content.npcs}
    # The NPCs the demo had keep what they had: persona, public profile, private sheet, temperament
    mira, borin, sable = npcs["mira"], npcs["borin"], npcs["sable"]
    assert mira.title == "Innkeeper of the Gilded Goose"
    assert mira.temperament
    assert mira.trusts["borin"] == 60
    assert borin.persona.startswith("You are the blacksmith")
    assert borin.fallback_lines
    assert sable.secrets
    assert sable.faction is None
    regions = {r.region_id for r in content.regions}
    assert all(n.region in regions for n in content.npcs)
    assert {mira.region, borin.region} == {"emberfall"}
    assert len(content.documents) == 4
    assert content.world.calendar.seasons == ("spring", "summer", "autumn", "winter")


@pytest.fixture
def world_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    shutil.copytree(DEMO_WORLD, folder)
    return folder


def _edit_yaml(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def _problems(folder: Path) -> list[str]:
    with pytest.raises(WorldFilesError) as failed:
        load_world_folder(folder)
    return [str(p) for p in failed.value.problems]


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (
            lambda f: _edit_yaml(f / "npcs/mira.yaml", lambda d: d.update(region="atlantis")),
            "npcs/mira.yaml: region: there is no region 'atlantis'",
        ),
        (
            lambda f: _edit_yaml(f / "npcs/borin.yaml", lambda d: d.update(faction="elves")),
            "npcs/borin.yaml: faction: there is no faction 'elves'",
        ),
        (
            lambda f: _edit_yaml(f / "regions/emberfall.yaml", lambda d: d.update(colour="red")),
            "regions/emberfall.yaml: colour: Extra inputs are not permitted",
        ),
        (
            lambda f: _edit_yaml(f / "npcs/mira.yaml", lambda d: d["temperament"].update(joy=3)),
            "npcs/mira.yaml: temperament.joy:",
        ),
        (
            lambda f: _edit_yaml(f / "regions/north-pass.yaml", lambda d: d.update(climate="tropical")),
            "regions/north-pass.yaml: climate: there is no climate 'tropical'",
        ),
        (
            lambda f: _edit_yaml(f / "world.yaml", lambda d: d["climates"]["lake"]["seasons"].pop("winter")),
            "world.yaml: climates.lake.seasons: has no weather for winter",
        ),
        (
            lambda f: _edit_yaml(f / "world.yaml", lambda d: d["clock"].update(speed=0)),
            "world.yaml: clock.speed:",
        ),
        (
            lambda f: _edit_yaml(f / "npcs/odo.yaml", lambda d: d.update(npc_id="ferryman")),
            "npcs/odo.yaml: npc_id: must be the file's name ('odo') or left out",
        ),
        (
            lambda f: (f / "npcs/vex.yaml").write_text("name: Vex\n  title: [unclosed\n"),
            "npcs/vex.yaml: is not valid YAML (line 2",
        ),
        (lambda f: (f / "quests.txt").write_text("soon"), "quests.txt: is not part of a world folder"),
        (
            lambda f: (f / "lore/sunken-library.md").write_text("---\ntitle: x\nno closing line\n"),
            "lore/sunken-library.md: its front matter has no closing '---' line",
        ),
    ],
    ids=[
        "unknown-region",
        "unknown-faction",
        "unknown-field",
        "out-of-range",
        "unknown-climate",
        "season-missing",
        "zero-speed",
        "id-not-file-name",
        "bad-yaml",
        "unknown-entry",
        "bad-front-matter",
    ],
)
def test_every_mistake_names_its_file_and_field(
    world_copy: Path, break_it: Callable[[Path], None], expected: str
) -> None:
    break_it(world_copy)
    problems = _problems(world_copy)
    assert any(p.startswith(expected) for p in problems), problems


def test_all_the_mistakes_of_a_folder_are_listed_at_once(world_copy: Path) -> None:
    _edit_yaml(world_copy / "npcs/mira.yaml", lambda d: d.update(colour="red"))
    _edit_yaml(world_copy / "regions/emberfall.yaml", lambda d: d.pop("climate"))
    problems = _problems(world_copy)
    assert len(problems) == 2
    assert {p.split(":")[0] for p in problems} == {"npcs/mira.yaml", "regions/emberfall.yaml"}


def test_a_folder_without_world_yaml_says_so(tmp_path: Path) -> None:
    assert _problems(tmp_path) == ["world.yaml: is missing: a world folder starts with it"]


@pytest.fixture
def push() -> PushDeps:
    return PushDeps(content=FakeWorldState(), world=FakeWorld(), lore=FakeLore())


def _lore(deps: PushDeps) -> FakeLore:
    assert isinstance(deps.lore, FakeLore)
    return deps.lore


def test_a_first_push_loads_everything_and_numbers_the_content(push: PushDeps) -> None:
    # When the demo world is pushed to an empty environment
    plan = push_world(push, STUDIO, "demo", demo_content(), dry_run=False)
    # Then every item is added, under content version 1
    assert (plan.applied, plan.from_version, plan.to_version) == (True, 0, 1)
    assert "npc:mira" in plan.added
    assert "region:north-pass" in plan.added
    assert not plan.changed
    assert len(plan.documents) == 4
    world = push.world
    assert isinstance(world, FakeWorld)
    assert {n.npc_id for n in world.list_npcs("demo")} >= {"mira", "borin", "vex", "ysolde"}
    assert world.npcs[("demo", "mira")].region == "emberfall"
    state = push.content
    assert isinstance(state, FakeWorldState)
    definition = state.definition("demo")
    assert definition is not None
    assert definition.content_version == 1
    assert state.worlds() == ["demo"]
    # And every document went to the knowledge base under a key naming its content
    keys = [key for _, _, key in _lore(push).uploads]
    assert all(
        key and key.startswith(("emberfall.", "sunken-library.", "council-ledger.", "kings-letters."))
        for key in keys
    )


def test_pushing_the_same_content_again_changes_nothing(push: PushDeps) -> None:
    push_world(push, STUDIO, "demo", demo_content(), dry_run=False)
    again = push_world(push, STUDIO, "demo", demo_content(), dry_run=False)
    assert (again.applied, again.from_version, again.to_version) == (False, 1, 1)
    assert not (again.added)
    assert not (again.changed)
    assert not (again.removed)
    assert len(_lore(push).uploads) == 4


def _edited(content: WorldContent) -> WorldContent:
    """Mira greets differently, Odo and the ferry fact are gone, a lore document is reworded."""
    npcs = tuple(
        n.model_copy(update={"greeting": "Come in, love!"}) if n.npc_id == "mira" else n
        for n in content.npcs
        if n.npc_id != "odo"
    )
    documents = tuple(
        d.model_copy(update={"text": d.text + "\n\nThe bronze doors are green now."})
        if d.key == "sunken-library"
        else d
        for d in content.documents
    )
    lore = tuple(f for f in content.lore if f.fact_id != "ferry")
    quests = tuple(q for q in content.quests if q.giver != "odo")  # Odo's quests go with him
    return content.model_copy(update={"npcs": npcs, "lore": lore, "documents": documents, "quests": quests})


def test_a_dry_run_shows_the_diff_and_changes_nothing(push: PushDeps) -> None:
    push_world(push, STUDIO, "demo", demo_content(), dry_run=False)
    plan = push_world(push, STUDIO, "demo", _edited(demo_content()), dry_run=True)
    assert (plan.dry_run, plan.applied, plan.from_version, plan.to_version) == (True, False, 1, 2)
    assert plan.changed == ["document:sunken-library", "npc:mira"]
    assert plan.removed == ["lore:ferry", "npc:odo", "quest:oil-for-the-lanterns"]
    world = push.world
    assert isinstance(world, FakeWorld)
    assert world.npcs[("demo", "mira")].greeting != "Come in, love!"
    assert len(_lore(push).uploads) == 4


def test_a_push_applies_its_diff_and_moves_the_version(push: PushDeps) -> None:
    push_world(push, STUDIO, "demo", demo_content(), dry_run=False)
    plan = push_world(push, STUDIO, "demo", _edited(demo_content()), dry_run=False)
    assert (plan.applied, plan.to_version) == (True, 2)
    world, state = push.world, push.content
    assert isinstance(world, FakeWorld)
    assert isinstance(state, FakeWorldState)
    assert world.npcs[("demo", "mira")].greeting == "Come in, love!"
    assert state.deleted == [
        ("demo", "lore:ferry"),
        ("demo", "npc:odo"),
        ("demo", "quest:oil-for-the-lanterns"),
    ]
    assert len(_lore(push).uploads) == 5  # the reworded document is a new upload
    assert plan.unchanged == len(content_items(_edited(demo_content()))) - len(plan.changed)


def test_a_push_that_lost_a_race_is_a_conflict(push: PushDeps) -> None:
    state = push.content
    assert isinstance(state, FakeWorldState)
    push_world(push, STUDIO, "demo", demo_content(), dry_run=False)
    # Given someone else pushed version 2 between this push's read and its write
    state.races_lost = 1
    with pytest.raises(Conflict) as lost:
        push_world(push, STUDIO, "demo", _edited(demo_content()), dry_run=False)
    assert lost.value.details == {"current_version": 1}


def test_only_the_studio_of_the_world_or_an_admin_pushes(push: PushDeps) -> None:
    with pytest.raises(Forbidden):
        push_world(push, PLAYER, "demo", demo_content(), dry_run=True)
    game_server = Caller(subject="gs", world_id="demo", roles=(Role.GAME_SERVER,))
    with pytest.raises(Forbidden):
        push_world(push, game_server, "demo", demo_content(), dry_run=True)
    with pytest.raises(Forbidden):
        push_world(
            push, Caller(subject="s", world_id="other", roles=(Role.STUDIO,)), "demo", demo_content(), True
        )
    admin = Caller(subject="root", world_id="other", roles=(Role.ADMIN,))
    assert push_world(push, admin, "demo", demo_content(), dry_run=True).dry_run


def test_content_of_another_world_or_with_broken_references_is_refused(push: PushDeps) -> None:
    with pytest.raises(InvalidRequest, match="content is of world 'demo'"):
        push_world(push, Caller(subject="s", world_id="x", roles=(Role.STUDIO,)), "x", demo_content(), True)
    lost = demo_content().model_copy(
        update={"npcs": tuple(n.model_copy(update={"region": "atlantis"}) for n in demo_content().npcs[:1])}
    )
    with pytest.raises(InvalidRequest) as refused:
        push_world(push, STUDIO, "demo", lost, dry_run=True)
    assert refused.value.details["fields"][0]["field"].endswith(".region")


def test_the_content_routes_answer_in_the_envelope() -> None:
    edge = HttpEdge()
    body = demo_content().model_dump_json().encode()
    # Given nothing was pushed: the content version is not found
    assert edge.call("GET", "/worlds/demo/content", caller=STUDIO).status == 404
    # When the studio dry-runs, then pushes
    dry = edge.call("POST", "/worlds/demo/content?dry_run=true", body=body, caller=STUDIO)
    done = edge.call("POST", "/worlds/demo/content", body=body, caller=STUDIO)
    # Then the dry run planned version 1 and the push made it
    assert dry.status == 200
    assert dry.body["data"]["dry_run"]
    assert not dry.body["data"]["applied"]
    assert done.status == 200, done.body
    assert done.body["data"]["applied"]
    summary = edge.call("GET", "/worlds/demo/content", caller=STUDIO)
    assert summary.body["data"]["version"] == 1
    assert summary.body["data"]["items"] == len(content_items(demo_content()))
    # And a player may not push, a bad flag is the caller's mistake
    assert edge.call("POST", "/worlds/demo/content", body=body, caller=PLAYER).status == 403
    bad = edge.call("POST", "/worlds/demo/content?dry_run=maybe", body=body, caller=STUDIO)
    assert (bad.status, bad.body["error"]["code"]) == (400, "invalid_request")


def test_the_plan_reads_as_a_diff() -> None:
    push = PushDeps(content=FakeWorldState(), world=FakeWorld(), lore=FakeLore())
    push_world(push, STUDIO, "demo", demo_content(), dry_run=False)
    text = describe(push_world(push, STUDIO, "demo", _edited(demo_content()), dry_run=True))
    assert text.splitlines()[0] == "demo: content version 1 would go to 2 (dry run)"
    assert "  ~ npc:mira" in text
    assert "  - npc:odo" in text
    assert "knowledge base keeps removed documents" not in text
