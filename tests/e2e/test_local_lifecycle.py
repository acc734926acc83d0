"""`aicore local` as a person runs it: stopped while busy, killed and started again with --data-dir.

Each test starts its own process; the bounds are generous deadlines (a hung stop fails the test
and the process group is killed), not performance asserts.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.clients import http_json
from tests.e2e.local_process import STOP_BOUND_S, LocalProcess
from tests.waiting import eventually

pytestmark = pytest.mark.model
GOLD = "aicore-local-gold"

# Threads started before `aicore local` that spin on the CPU once the test creates the flag file
# (after start-up: spinning from the first instant starves the start on a 2-core machine). They do
# not block the stop signals, so the kernel may hand SIGTERM to one of them (the CI failure).
BUSY_THREADS = """
import os, threading, time
def spin():
    while not os.path.exists({flag!r}):
        time.sleep(0.05)
    while True:
        sum(range(1000))
for _ in range(3):
    threading.Thread(target=spin, daemon=True).start()
"""


def _fault_hits(models_url: str) -> int:
    _, body = http_json(f"{models_url}/_aicore/faults")
    return sum(fault["hits"] for fault in body["faults"])


async def _start_turn(url: str) -> Any:
    """Connect and send one npc.say; the connection stays open while the turn runs."""
    ws = await websockets.connect(url)
    frame = {"action": "npc.say", "request_id": "long", "npc_id": "mira", "text": "Tell me everything."}
    await ws.send(json.dumps(frame))
    return ws


def test_sigterm_stops_it_within_a_bound_while_threads_spin_and_a_turn_is_in_flight(tmp_path: Path) -> None:
    # Given aicore local with CPU-busy threads of its own, a model that stalls, and a long budget
    flag = tmp_path / "spin"
    with LocalProcess(
        extra_args=["--deadline-scale", "1000"], prelude=BUSY_THREADS.format(flag=str(flag))
    ) as local:
        status, _ = http_json(
            f"{local.models_url}/_aicore/faults",
            method="POST",
            body={"endpoint": GOLD, "kind": "stall", "delay_s": 600},
        )
        assert status == 200
        loop = asyncio.new_event_loop()
        try:
            ws = loop.run_until_complete(_start_turn(local.ws()))
        except websockets.InvalidStatus as refused:  # say why: the process's log has the handler's error
            raise AssertionError(
                f"connect refused ({refused}); aicore local printed:\n{local.output}"
            ) from None
        # ... and a turn in flight, waiting on the stalled model (up to 100 s at this scale)
        eventually(
            lambda: _fault_hits(local.models_url) >= 1, timeout_s=60, what="the turn reached the model"
        )
        flag.touch()  # the threads spin from here on: the stop signal may land on any of them

        # When it gets SIGTERM
        took_s = local.stop(signal.SIGTERM, bound_s=STOP_BOUND_S)

        # Then it stopped by itself, cleanly, within the bound (stop() fails the test past it)
        assert local.process is not None
        assert local.process.returncode == 0, local.output
        assert "aicore local stopped" in local.output
        assert took_s < STOP_BOUND_S
        loop.run_until_complete(ws.close())
        loop.close()


def test_a_session_survives_a_crash_with_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "state"
    with LocalProcess(extra_args=["--data-dir", str(data_dir)]) as first:
        # Given a session with messages, written through the HTTP API
        status, created = http_json(
            f"{first.base}/sessions",
            first.token,
            method="POST",
            body={"participants": [{"id": "player-1", "kind": "player"}], "metadata": {"quest": "q1"}},
        )
        assert status == 201, created
        session_id = created["data"]["session_id"]
        lines = ["I left my sword here.", "Keep it for me."]
        status, _ = http_json(
            f"{first.base}/sessions/{session_id}/messages",
            first.token,
            method="POST",
            body={"messages": [{"speaker": {"id": "player-1", "kind": "player"}, "text": t} for t in lines]},
        )
        assert status == 201

        # When the process is killed outright (no clean stop, as in a crash or a power cut)
        first.kill()

    # Then a new process on the same data directory has the session and its messages
    with LocalProcess(extra_args=["--data-dir", str(data_dir)]) as second:
        status, page = http_json(f"{second.base}/sessions/{session_id}/messages", second.token)
        assert status == 200, page
        assert [m["text"] for m in page["data"]["messages"]] == lines
        status, head = http_json(f"{second.base}/sessions/{session_id}", second.token)
        assert head["data"]["session"]["metadata"] == {"quest": "q1"}

        # ... and after a clean stop and a third start, still
        second.stop()
    with LocalProcess(extra_args=["--data-dir", str(data_dir)]) as third:
        status, page = http_json(f"{third.base}/sessions/{session_id}/messages", third.token)
        assert [m["text"] for m in page["data"]["messages"]] == lines

        # ... and a second runtime on the same directory is refused in one line
        intruder = LocalProcess(extra_args=["--data-dir", str(data_dir)])
        with pytest.raises(AssertionError, match="did not become ready"):
            intruder.start()
        assert intruder.process is not None
        assert intruder.process.returncode == 1
        assert "in use by another aicore local" in intruder.output
        assert "Traceback" not in intruder.output
        third.stop()
