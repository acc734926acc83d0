"""Reflection: insights from the silver tier citing their memories, a scripted reflection when the
model fails or answers out of form, each step safe to run twice, one flow per reflection number."""

from __future__ import annotations

from typing import Any

import pytest

from aicore.errors import ModelUnavailable
from aicore.llm.endpoint import TierTarget
from aicore.mind.events import ReflectionDue
from aicore.mind.models import MemoryKind, MemorySource
from aicore.mind.policy import MindPolicy
from aicore.mind.reflection import (
    Cited,
    InsightsUnusable,
    ReflectionDeps,
    parse_insights,
    reflection_step,
    run_step,
    start_reflection,
)
from aicore.mind.service import observe_turn
from tests.fakes import FakeFlows, FakeMind, ScriptedEndpoint
from tests.minds import EMBEDDER, START, mind_deps, turn

IDS = {"world_id": "demo", "npc_id": "mira", "player_id": "p1", "reflection": 0}
LINES = [
    "My sister Elara was taken by the Red Hand bandits.",
    "I will find my sister whatever it costs.",
    "The Red Hand camp is past the old quarry.",
    "Nice weather.",
]


def _deps(answer: str = "", failing: bool = False) -> tuple[ReflectionDeps, FakeMind]:
    mind = mind_deps(policy=MindPolicy(reflection_threshold=10))
    for n, line in enumerate(LINES):
        observe_turn(mind, turn(n, line))
    assert isinstance(mind.store, FakeMind)
    endpoint = ScriptedEndpoint(tokens=(answer,), failing={"silver"} if failing else set())
    deps = ReflectionDeps(
        store=mind.store,
        embedder=EMBEDDER,
        endpoint=endpoint,
        target=TierTarget("silver"),
        policy=mind.policy,
        clock=lambda: START,
    )
    return deps, mind.store


def _run(deps: ReflectionDeps, step: str, **fields: Any) -> dict[str, Any]:
    return run_step(deps, reflection_step.validate_python({"step": step, **IDS, **fields})).model_dump(
        mode="json"
    )


def test_the_model_reflects_and_its_insights_cite_their_memories() -> None:
    deps, store = _deps(
        "They are set on rescuing their sister from the Red Hand. (because of 1, 2, 3)\nnoise"
    )
    gathered = _run(deps, "gather")
    assert gathered["due"] is True
    assert "Nice weather." not in [m["text"] for m in gathered["memories"]][:3]
    reflected = _run(deps, "reflect", memories=gathered["memories"])
    assert reflected["by"] == "model"
    assert len(reflected["insights"]) == 1
    # Recorded twice (a retried task): written once, the count moved once
    first = _run(deps, "record", insights=reflected["insights"], by="model")
    again = _run(deps, "record", insights=reflected["insights"], by="model")
    assert (first["recorded"], again["recorded"]) == (True, False)
    insights = [m for m in store.read_pair("demo", "mira", "p1").memories if m.kind is MemoryKind.INSIGHT]
    assert len(insights) == 1
    assert insights[0].source is MemorySource.REFLECTION
    cited = set(insights[0].cites)
    assert len(cited) == 3
    assert cited <= {m["memory_id"] for m in gathered["memories"]}
    state = store.read_pair("demo", "mira", "p1").state
    assert (state.reflections, state.importance_since_reflection) == (1, 0)
    # The same reflection, started again, is no longer due
    assert _run(deps, "gather")["due"] is False


def test_a_reflect_delivered_twice_may_think_otherwise_but_only_one_reflection_is_recorded() -> None:
    # Given a reflection whose model step is delivered twice, the model answering otherwise the second time
    deps, store = _deps("They are set on rescuing their sister. (because of 1, 2)")
    gathered = _run(deps, "gather")
    first = _run(deps, "reflect", memories=gathered["memories"])
    deps.endpoint = ScriptedEndpoint(tokens=("They talk about the weather. (because of 4)",))
    second = _run(deps, "reflect", memories=gathered["memories"])
    assert first["insights"] != second["insights"]

    # When the record step runs with one answer, and is delivered again with the other
    recorded = _run(deps, "record", insights=first["insights"], by="model")
    again = _run(deps, "record", insights=second["insights"], by="model")

    # Then the reflection is the first answer's, recorded once; the count moved once
    assert (recorded["recorded"], again["recorded"]) == (True, False)
    insights = [
        m.text for m in store.read_pair("demo", "mira", "p1").memories if m.kind is MemoryKind.INSIGHT
    ]
    assert insights == ["They are set on rescuing their sister."]
    assert store.read_pair("demo", "mira", "p1").state.reflections == 1


@pytest.mark.parametrize(("answer", "failing"), [("I think so.", False), ("", True)], ids=["garbage", "down"])
def test_a_model_out_of_form_or_down_hands_over_to_the_scripted_reflection(
    answer: str, failing: bool
) -> None:
    deps, store = _deps(answer, failing)
    gathered = _run(deps, "gather")
    with pytest.raises(ModelUnavailable) as failed:  # the flow's Catch takes it to the scripted step
        _run(deps, "reflect", memories=gathered["memories"])
    assert failing or isinstance(failed.value, InsightsUnusable)
    scripted = _run(deps, "reflect_scripted", memories=gathered["memories"])
    assert scripted["by"] == "scripted"
    texts = [i["text"] for i in scripted["insights"]]
    assert texts[0].startswith("What matters most to p1: ")
    assert any("keeps coming back to" in t for t in texts)
    assert _run(deps, "record", insights=scripted["insights"], by="scripted")["recorded"] is True
    assert sum(m.kind is MemoryKind.INSIGHT for m in store.read_pair("demo", "mira", "p1").memories) == len(
        texts
    )


def test_insight_lines_must_cite_memories_that_exist() -> None:
    memories = [Cited(memory_id=f"m{i}", text="x", importance=5) for i in range(3)]
    answer = (
        "1. Brave. (because of 1, 3)\n- Lost. (because of 9)\nNo citation here.\nKind soul. (because of 2)"
    )
    parsed = parse_insights(answer, memories, limit=3)
    assert [(i.text, i.cites) for i in parsed] == [("Brave.", ["m0", "m2"]), ("Kind soul.", ["m1"])]


def test_a_reflection_is_started_once_however_often_it_is_due() -> None:
    flows = FakeFlows()
    due = ReflectionDue(
        world_id="demo", correlation_id="c", npc_id="mira", player_id="p1", reflection=3, importance=70
    )
    first, again = start_reflection(flows, due), start_reflection(flows, due)
    assert (first.started, again.started) == (True, False)
    ((machine, name, payload),) = flows.started
    assert machine == "mind-reflection"
    assert name.startswith("reflect-")
    assert len(name) <= 80
    assert payload == {"world_id": "demo", "npc_id": "mira", "player_id": "p1", "reflection": 3}
