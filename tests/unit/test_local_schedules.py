"""Schedules run locally: each ticks on its rate with Scheduler's input, and can be fired now."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from aicore.local.lambdas import Lambdas
from aicore.local.schedules import ScheduleTicker, scheduled_targets
from aicore.local.stopping import Deadline
from aicore.topology import TOPOLOGY, Function, Schedule, Topology

HANDLER = """
import json, pathlib
def handler(event, context):
    with open(pathlib.Path(__file__).parent / "calls.jsonl", "a") as calls:
        calls.write(json.dumps(event) + "\\n")
    return {"seen": event}
"""


@pytest.fixture
def probe(tmp_path: Path) -> Lambdas:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "handler.py").write_text(HANDLER)
    topology = Topology(
        tables=TOPOLOGY.tables,
        buckets=TOPOLOGY.buckets,
        bus=TOPOLOGY.bus,
        model_tiers=TOPOLOGY.model_tiers,
        authorizer=TOPOLOGY.authorizer,
        functions=(Function(name="probe", description="p", code="fn", schedules=(Schedule("tick", 1),)),),
    )
    return Lambdas(topology, root=tmp_path)


def _calls(tmp_path: Path) -> list[dict[str, str]]:
    path = tmp_path / "fn" / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_fire_invokes_with_the_scheduler_input(probe: Lambdas, tmp_path: Path) -> None:
    ticker = ScheduleTicker(probe, "local", probe._topology)
    assert ticker.fire("tick") == {"seen": {"schedule": "tick", "environment": "local"}}
    with pytest.raises(KeyError, match="known are tick"):
        ticker.fire("nope")


def test_schedules_tick_on_their_rate(probe: Lambdas, tmp_path: Path) -> None:
    # A minute lasts 50 ms here: the 1-minute schedule ticks every 50 ms
    ticker = ScheduleTicker(probe, "local", probe._topology, seconds_per_minute=0.05)
    ticker.start()
    time.sleep(0.3)
    ticker.stop()
    calls = _calls(tmp_path)
    assert 2 <= len(calls) <= 7
    assert all(c == {"schedule": "tick", "environment": "local"} for c in calls)


def test_the_topology_sweeps_dormant_sessions_on_a_schedule() -> None:
    assert [(t.schedule.name, t.function) for t in scheduled_targets()] == [
        ("session-dormancy-sweep", "session-tiering")
    ]


BUSY_HANDLER = """
import threading
STARTED, RELEASE = threading.Event(), threading.Event()
def handler(event, context):
    STARTED.set()
    RELEASE.wait(120)
"""


def test_stop_is_bounded_while_a_scheduled_handler_is_busy(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "handler.py").write_text(BUSY_HANDLER)
    function = Function(name="busy", description="b", code="fn", schedules=(Schedule("tick", 1),))
    topology = Topology(
        tables=(),
        buckets=(),
        bus=TOPOLOGY.bus,
        model_tiers=(),
        authorizer=TOPOLOGY.authorizer,
        functions=(function,),
    )
    lambdas = Lambdas(topology, root=tmp_path)
    handler = lambdas.module(function)
    ticker = ScheduleTicker(lambdas, "local", topology, seconds_per_minute=0.01)
    ticker.start()
    assert handler.STARTED.wait(60)

    # When it stops with a handler still busy, it gives up at the deadline instead of waiting
    stopped_cleanly = ticker.stop(Deadline.after(0.2))

    handler.RELEASE.set()
    assert stopped_cleanly is False
