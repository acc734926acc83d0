"""Every consumer of the bus tolerates redelivery: each event, delivered twice, acts once.

EventBridge (and the local delivery's retries) may deliver an event more than once; so may a
retried `PutEvents` whose first answer was lost. Flow steps run twice are tested with the tiering steps.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from aicore.llm.endpoint import TierTarget
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.mind.events import ReflectionDue
from aicore.mind.reflection import ReflectionDeps
from aicore.mind.service import observe_turn
from aicore.npc.events import NpcTurnCompleted
from aicore.sessions.events import SessionCompactionNeeded, SessionRehydrationRequested
from aicore.topology import (
    MIND_SOURCE,
    NPC_SOURCE,
    NPC_TURN_COMPLETED,
    REFLECTION_DUE,
    SESSION_COMPACTION_NEEDED,
    SESSION_REHYDRATION_REQUESTED,
    SESSIONS_SOURCE,
    TOPOLOGY,
)
from tests import minds
from tests.events import load_event
from tests.fakes import FakeFlows, FakeMind, FakeWorld, ScriptedEndpoint
from tests.minds import EMBEDDER, mind_deps
from tests.tier_fakes import RecordingSummarizer
from tests.unit.test_session_compaction import POLICY, _store


def _delivered_twice(
    function: str, source: str, detail_type: str, detail: BaseModel, **deps: Any
) -> list[Any]:
    fn = TOPOLOGY.function(function)
    handler = Lambdas().module(fn).handler
    event = load_event("eventbridge", source=source, detail=detail.model_dump(mode="json"))
    event["detail-type"] = detail_type
    return [handler(event, LambdaContext(fn.name, fn.memory_mb, fn.timeout_s), **deps) for _ in range(2)]


def test_a_turn_is_remembered_once() -> None:
    world = FakeWorld()
    mind = mind_deps(world)
    turn = NpcTurnCompleted(
        world_id="demo",
        correlation_id="turn-1",
        session_id="ses_1",
        npc_id="mira",
        player_id="p1",
        player_line="Any rooms?",
        reply="Aye, love.",
        tier="gold",
        fallback=False,
        phrases_heard={"ashtongue": 2},
    )
    first, second = _delivered_twice(
        "npc-memory", NPC_SOURCE, NPC_TURN_COMPLETED, turn, world=world, mind=mind
    )
    assert world.proficiencies[("demo", "p1")].heard == {"ashtongue": 2}  # the phrases heard count once
    assert {k: first[k] for k in ("npc_id", "player_id", "turns")} == {
        "npc_id": "mira",
        "player_id": "p1",
        "turns": 1,
    }
    assert second["turns"] == 1
    assert (first["mind"]["written"], second["mind"]["written"]) == (True, False)
    assert (first["mind"]["feeling"], second["mind"]["feeling"]) == ("felt", "already")
    assert isinstance(mind.store, FakeMind)
    assert mind.store.count("demo", "mira", "p1") == 2


def test_a_reflection_flow_is_started_once() -> None:
    flows = FakeFlows()
    due = ReflectionDue(
        world_id="demo", correlation_id="c-3", npc_id="mira", player_id="p1", reflection=0, importance=61
    )
    first, second = _delivered_twice("mind-reflection", MIND_SOURCE, REFLECTION_DUE, due, flows=flows)
    assert (first["started"], second["started"]) == (True, False)
    assert len(flows.started) == 1


def test_each_reflection_step_run_twice_acts_once() -> None:
    # Given a pair with something to reflect on
    mind = mind_deps()
    for n, line in enumerate(["My sister Elara was taken.", "I will find my sister Elara."]):
        observe_turn(mind, minds.turn(n, line))
    assert isinstance(mind.store, FakeMind)
    deps = ReflectionDeps(
        mind.store, EMBEDDER, ScriptedEndpoint(failing={"silver"}), TierTarget("silver"), mind.policy
    )
    fn = TOPOLOGY.function("mind-reflection-steps")
    handler = Lambdas().module(fn).handler
    ids = {"world_id": "demo", "npc_id": "mira", "player_id": "p1", "reflection": 0}

    def twice(step: dict[str, Any]) -> list[dict[str, Any]]:
        context = LambdaContext(fn.name, fn.memory_mb, fn.timeout_s)
        return [handler({**ids, **step}, context, deps=deps) for _ in range(2)]

    # When every step is delivered twice
    gathered, gathered_again = twice({"step": "gather"})
    scripted, scripted_again = twice({"step": "reflect_scripted", "memories": gathered["memories"]})
    recorded, recorded_again = twice({"step": "record", "insights": scripted["insights"], "by": "scripted"})
    # Then the reads agree, and the insights were recorded once
    assert gathered == gathered_again
    assert scripted == scripted_again
    assert (recorded["recorded"], recorded_again["recorded"]) == (True, False)
    insights = [m for m in mind.store.read_pair("demo", "mira", "p1").memories if m.kind == "insight"]
    assert len(insights) == recorded["insights"] >= 1


def test_a_compaction_is_paid_for_once(monkeypatch: Any) -> None:
    store, summarizer = _store(200), RecordingSummarizer()
    monkeypatch.setattr("aicore.wiring.session_policy", lambda: POLICY)
    needed = SessionCompactionNeeded(
        world_id="demo",
        correlation_id="c-1",
        session_id=store.head.session_id,
        message_count=200,
        hot_count=200,
    )
    first, second = _delivered_twice(
        "session-summarizer",
        SESSIONS_SOURCE,
        SESSION_COMPACTION_NEEDED,
        needed,
        store=store,
        summarizer=summarizer,
    )
    assert (first["compacted"], second["compacted"]) == (True, False)
    assert len(summarizer.calls) == 1


def test_a_rehydration_is_started_once() -> None:
    flows = FakeFlows()
    requested = SessionRehydrationRequested(
        world_id="demo",
        correlation_id="c-2",
        session_id="ses_9",
        archive_key="sessions/demo/ses_9/20261130T2000.json.gz",
    )
    first, second = _delivered_twice(
        "session-tiering", SESSIONS_SOURCE, SESSION_REHYDRATION_REQUESTED, requested, flows=flows
    )
    assert (first["started"], second["started"]) == (True, False)
    assert len(flows.started) == 1
