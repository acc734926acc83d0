"""Schedules run locally: each ticks on its rate with Scheduler's input, and can be fired now."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from aicore.local.lambdas import Lambdas
from aicore.local.schedules import ScheduleTicker, scheduled_targets
from aicore.local.stopping import Deadline
from aicore.topology import TOPOLOGY, Function, Schedule, Topology
from tests.waiting import eventually

HANDLER = """
import json, pathlib
def handler(event, context):
    with open(pathlib.Path(__file__).parent / "calls.jsonl", "a") as calls:
        calls.write(json.dumps(event) + "\\n")
    if pathlib.Path(__file__).with_name("fail").exists():
        raise RuntimeError("the handler fell over")
    return {"seen": event}
"""


class Ticks:
    """The wait between ticks, on a virtual clock: `count` periods pass at once, then the ticker stops."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.periods_s: list[float] = []
        self.stopped = threading.Event()

    def __call__(self, stop: threading.Event, seconds: float) -> bool:
        self.periods_s.append(seconds)
        if self.left == 0:
            self.stopped.set()
            return True
        self.left -= 1
        return False


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
        functions=(Function(name="probe", description="p", code="fn", schedules=(Schedule("tick", 5),)),),
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
    # Given a 5-minute schedule, and three of its periods about to pass
    ticks = Ticks(3)
    ticker = ScheduleTicker(probe, "local", probe._topology, wait=ticks)

    # When the ticker runs
    ticker.start()
    eventually(ticks.stopped.is_set, timeout_s=30, what="three periods of the schedule")
    ticker.stop()

    # Then it waited one period (300 s) before each tick, and invoked the function once per period
    assert ticks.periods_s == [300.0] * 4
    assert _calls(tmp_path) == [{"schedule": "tick", "environment": "local"}] * 3


def test_a_failing_tick_does_not_stop_the_schedule(probe: Lambdas, tmp_path: Path) -> None:
    # Given a function that fails every time
    (tmp_path / "fn" / "fail").touch()
    ticks = Ticks(2)
    ticker = ScheduleTicker(probe, "local", probe._topology, wait=ticks)

    # When two periods pass
    ticker.start()
    eventually(ticks.stopped.is_set, timeout_s=30, what="two periods of the schedule")
    ticker.stop()

    # Then both ticks ran (the next tick is the retry, as Scheduler retries)
    assert len(_calls(tmp_path)) == 2


def test_stop_ends_a_ticker_that_waits_in_real_time(probe: Lambdas, tmp_path: Path) -> None:
    ticker = ScheduleTicker(probe, "local", probe._topology)
    ticker.start()
    ticker.stop()  # the real wait returns as soon as it is told to stop: no 5 minutes, no tick
    assert "schedule-tick" not in {thread.name for thread in threading.enumerate()}
    assert _calls(tmp_path) == []


def test_the_topology_sweeps_sessions_rotates_keys_and_visits_worlds_on_schedules() -> None:
    assert sorted((t.schedule.name, t.function) for t in scheduled_targets()) == [
        ("session-dormancy-sweep", "session-tiering"),
        ("signing-key-rotation", "identity-keys"),
        ("story-time", "storyteller"),
        ("world-weather", "world-keeper"),
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
    ticker = ScheduleTicker(lambdas, "local", topology, wait=lambda stop, _period_s: stop.wait(0.01))
    ticker.start()
    assert handler.STARTED.wait(60)

    # When it stops with a handler still busy, it gives up at the deadline instead of waiting
    stopped_cleanly = ticker.stop(Deadline.after(0.2))

    handler.RELEASE.set()
    assert stopped_cleanly is False
