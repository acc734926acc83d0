"""The mind on the local backend: a turn's event reaches the npc-memory consumer over the bus (twice,
acting once), and the reflection flow's real ASL runs on Step Functions, its scripted fallback
taking over when the silver tier fails, recorded once however often it runs."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from aicore import wiring
from aicore.aws.mind_store import DynamoMindStore
from aicore.clock import utc_now
from aicore.local.embedded_aws import aws_client
from aicore.local.faults import Fault, FaultKind
from aicore.local.model_server import local_endpoint_names
from aicore.local.runtime import LocalRuntime
from aicore.mind.models import MemoryKind
from aicore.mind.service import observe_turn
from aicore.npc.events import NpcTurnCompleted
from aicore.topology import MIND_REFLECTION_FLOW, NPC_SOURCE, NPC_TURN_COMPLETED, TOPOLOGY
from tests.minds import EMBEDDER, turn

pytestmark = pytest.mark.model


def _eventually(check: Callable[[], bool], timeout_s: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout_s} s")


def _finished(client: Any, execution_arn: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        described: dict[str, Any] = client.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    raise AssertionError(f"{execution_arn} did not finish in {timeout_s} s")


@pytest.fixture
def store(runtime: LocalRuntime) -> DynamoMindStore:
    return wiring.mind_store()


def test_a_turn_reaches_the_mind_over_the_bus_once(runtime: LocalRuntime, store: DynamoMindStore) -> None:
    # Given a finished turn of a new player with Mira, published twice on the bus
    player = f"p-{uuid.uuid4().hex[:8]}"
    event = NpcTurnCompleted(
        world_id="demo",
        correlation_id=f"turn-{uuid.uuid4().hex[:8]}",
        session_id="ses_live",
        npc_id="mira",
        player_id=player,
        player_line="My name is Aldric and my sister Elara was taken by the Red Hand bandits.",
        reply="Oh, love, that is dreadful.",
        tier="gold",
        fallback=False,
    )
    for _ in range(2):
        wiring.events().publish(NPC_SOURCE, NPC_TURN_COMPLETED, event)
    # Then Mira remembers both lines once, and feels something about the player
    _eventually(lambda: len(store.read_pair("demo", "mira", player).memories) == 2, what="two memories")
    _eventually(
        lambda: wiring.world().relationship("demo", "mira", player) is not None, what="a relationship"
    )
    memories = store.read_pair("demo", "mira", player).memories
    assert len(memories) == 2
    said = next(m for m in memories if m.kind is MemoryKind.PLAYER_SAID)
    assert said.importance >= 6
    assert said.embedder == EMBEDDER.name
    relationship = wiring.world().relationship("demo", "mira", player)
    assert relationship is not None
    assert relationship.version == 1


def test_the_reflection_flow_falls_back_to_a_script_and_records_once(
    runtime: LocalRuntime, store: DynamoMindStore
) -> None:
    # Given a pair with things worth thinking over, and a silver tier that fails
    player = f"p-{uuid.uuid4().hex[:8]}"
    deps = wiring.mind_deps()
    lines = [
        "My sister Elara was taken by bandits.",
        "I will find my sister.",
        "The camp is past the quarry.",
    ]
    for n, line in enumerate(lines):
        observe_turn(deps, turn(n, line, player_id=player))
    silver = next(name for name in local_endpoint_names("local") if name.endswith("silver"))
    runtime.faults.inject(Fault(endpoint=silver, kind=FaultKind.MODEL_ERROR))
    client = aws_client("stepfunctions", runtime.aws.url)
    arn = os.environ[TOPOLOGY.state_machine(MIND_REFLECTION_FLOW).env_var]
    payload = {"world_id": "demo", "npc_id": "mira", "player_id": player, "reflection": 0}
    try:
        # When the flow runs, and runs again with the same input (a second start)
        runs = [
            _finished(
                client,
                client.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=json.dumps(payload))[
                    "executionArn"
                ],
            )
            for _ in range(2)
        ]
    finally:
        runtime.faults.clear(silver)
    # Then both succeed; the first reflected by script and recorded, the second found nothing due
    assert [r["status"] for r in runs] == ["SUCCEEDED", "SUCCEEDED"]
    first, second = (json.loads(r["output"]) for r in runs)
    assert first["reflected"]["by"] == "scripted"
    assert "model_error" in first
    assert first["recorded"]["recorded"] is True
    assert second["gathered"]["due"] is False
    pair = store.read_pair("demo", "mira", player)
    insights = [m for m in pair.memories if m.kind is MemoryKind.INSIGHT]
    assert len(insights) == first["recorded"]["insights"] >= 1
    assert all(set(i.cites) <= {m.memory_id for m in pair.memories} for i in insights)
    assert pair.state.reflections == 1
    assert utc_now() > insights[0].created_at
