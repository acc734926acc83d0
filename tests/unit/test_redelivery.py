"""Every consumer of the bus tolerates redelivery: each event, delivered twice, acts once.

EventBridge (and the local delivery's retries) may deliver an event more than once; so may a
retried `PutEvents` whose first answer was lost. Flow steps run twice are tested with the tiering steps.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.npc.turn import NpcTurnCompleted
from aicore.sessions.events import SessionCompactionNeeded, SessionRehydrationRequested
from aicore.topology import (
    NPC_SOURCE,
    NPC_TURN_COMPLETED,
    SESSION_COMPACTION_NEEDED,
    SESSION_REHYDRATION_REQUESTED,
    SESSIONS_SOURCE,
    TOPOLOGY,
)
from tests.events import load_event
from tests.fakes import FakeFlows, FakeWorld
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
    )
    first, second = _delivered_twice("npc-memory", NPC_SOURCE, NPC_TURN_COMPLETED, turn, world=world)
    assert first == second == {"npc_id": "mira", "player_id": "p1", "turns": 1}


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
