"""`aicore smoke` against `aicore local` run as `make run` runs it: every step passes, timed; and a
stack that is not there fails with exit code 1 and says which steps."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from aicore.local.budget import MAX_DEADLINE_SCALE
from tests.e2e.local_process import REPO_ROOT, LocalProcess

pytestmark = pytest.mark.model
STEPS = ("status", "guest login", "npc turn (streamed)", "session read", "settings read")


@pytest.fixture(scope="module")
def local() -> Iterator[LocalProcess]:
    # The longest deadlines: on a busy machine the CPU model must stream, not fall back
    with LocalProcess(extra_args=("--deadline-scale", str(MAX_DEADLINE_SCALE))) as running:
        yield running
        running.stop()


def smoke(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aicore.local.cli", "smoke", *arguments],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
        check=False,
    )


def test_smoke_passes_every_step_against_the_local_runtime(local: LocalProcess) -> None:
    done = smoke("--url", local.base)
    print(done.stdout)  # the timed table, for whoever reads the test log

    assert done.returncode == 0, done.stdout + done.stderr
    for step in STEPS:
        row = re.search(rf"^{re.escape(step)}\s+(\d+)\s+ok\s+(.+)$", done.stdout, re.MULTILINE)
        assert row, f"{step}: {done.stdout}"
    assert re.search(r"^npc turn \(streamed\).*\b[1-9]\d* token frames", done.stdout, re.MULTILINE)
    assert "all steps passed" in done.stdout


def test_smoke_against_nothing_fails_and_says_which_steps() -> None:
    done = smoke("--url", "http://127.0.0.1:9")

    assert done.returncode == 1
    assert re.search(r"^guest login\s+\d+\s+FAILED\s+URLError", done.stdout, re.MULTILINE)
    assert re.search(r"^npc turn \(streamed\)\s+skip\s+skipped: guest login", done.stdout, re.MULTILINE)
