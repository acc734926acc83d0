"""`aicore qa run` against `aicore local` (as `make run` runs it): a persona broken on demand fails
with a report that names the turn, a good one passes, and 20 synthetic players all get answers.

The local model (SmolLM2-135M) does not reliably obey an instruction to break character, so the
broken persona is made deterministic by the model server's `scripted` fault: requests whose prompt
contains "You are Odo." are answered "As an AI language model, ..." by the model endpoint itself.
Everything else is real: the guest logins, the SDK over the WebSocket, the turn, the router, the
check that reads the reply.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aicore.local.budget import MAX_DEADLINE_SCALE
from aicore.local.model_server import local_endpoint_names
from tests.clients import http_json
from tests.e2e.local_process import REPO_ROOT, LocalProcess

pytestmark = [pytest.mark.model, pytest.mark.timeout(900)]  # the CPU model answers every turn
SCENARIOS = REPO_ROOT / "qa" / "scenarios"
BROKEN_LINE = "As an AI language model, I do not really row a ferry."


@pytest.fixture(scope="module")
def local() -> Iterator[LocalProcess]:
    # The longest deadlines: on a busy machine the CPU model should stream, not fall back
    with LocalProcess(extra_args=("--deadline-scale", str(MAX_DEADLINE_SCALE))) as running:
        yield running
        running.stop()


def qa_run(
    local: LocalProcess, scenario: str, out: Path
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    command = ["qa", "run", str(SCENARIOS / scenario), "--url", local.base, "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "aicore.local.cli", *command],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=1100,
        check=False,
    )
    print(done.stdout, done.stderr)  # the summary, for whoever reads the test log
    reports = sorted(out.glob("*.json"))
    assert len(reports) == 1, done.stdout + done.stderr
    assert len(list(out.glob("*.html"))) == 1
    return done, json.loads(reports[0].read_text(encoding="utf-8"))


def check(report: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in report["checks"] if c["check"] == name)
    return found


def scripted(local: LocalProcess, reply: str, prompt_contains: str) -> Iterator[None]:
    """Every tier's endpoint answers prompts with `prompt_contains` with `reply`, until the test ends."""
    faults = f"{local.models_url}/_aicore/faults"
    for endpoint in local_endpoint_names():  # whichever tier answers says it
        fault = {"endpoint": endpoint, "kind": "scripted", "reply": reply, "prompt_contains": prompt_contains}
        status, _ = http_json(faults, method="POST", body=fault)
        assert status == 200
    yield
    http_json(faults, method="DELETE")


@pytest.fixture
def odo_breaks_character(local: LocalProcess) -> Iterator[None]:
    yield from scripted(local, BROKEN_LINE, "You are Odo.")


@pytest.fixture
def mira_answers_at_once(local: LocalProcess) -> Iterator[None]:
    # The load test is about the protocol and the backend under 20 players, not the CPU model's
    # speed (one queue: most turns would time out into the scripted fallback line).
    yield from scripted(local, "Welcome, traveller. Two rooms are free tonight.", "You are Mira")


def test_a_broken_persona_fails_with_a_report_naming_the_turn(
    local: LocalProcess, odo_breaks_character: None, tmp_path: Path
) -> None:
    # Given Odo's model answers that it is an AI (Mira is untouched)
    # When the personas scenario runs against the runtime
    done, report = qa_run(local, "personas.yaml", tmp_path)

    # Then the run fails (exit code 1) and the report names Odo's turn, what was expected and said
    assert done.returncode == 1, done.stdout + done.stderr
    assert not report["passed"]
    in_character = check(report, "in_character")
    assert in_character["failed"] == 1
    [failure] = in_character["failures"]
    assert failure["where"] == "player 0 turn 2 (odo)"
    assert failure["expected"] == "no forbidden phrase"
    assert "'as an ai'" in failure["actual"]
    assert BROKEN_LINE in failure["actual"]
    assert "player 0 turn 2 (odo): expected no forbidden phrase" in done.stdout
    html = next(tmp_path.glob("*.html")).read_text(encoding="utf-8")
    assert "player 0 turn 2 (odo)" in html
    assert "FAILED" in html


@pytest.fixture
def npcs_stay_in_character(local: LocalProcess) -> Iterator[None]:
    # SmolLM2-135M, asked "Are you a real ferryman, or something else?", now and then says it is
    # an AI (the full run caught it once): the test is that in-character replies pass, so they are
    # scripted at the endpoint, and every other part of the run is real.
    yield from scripted(local, "Welcome, traveller. The river is calm and the lanterns are lit.", "You are")


def test_a_good_persona_passes(local: LocalProcess, npcs_stay_in_character: None, tmp_path: Path) -> None:
    done, report = qa_run(local, "personas.yaml", tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert report["passed"]
    assert check(report, "in_character")["evaluated"] == 2
    assert "all checks passed" in done.stdout


def test_twenty_synthetic_players_all_get_answers(
    local: LocalProcess, mira_answers_at_once: None, tmp_path: Path
) -> None:
    done, report = qa_run(local, "load-20.yaml", tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    assert report["players"] == 20
    assert check(report, "guest_login")["evaluated"] == 20
    replied = check(report, "replied")
    assert (replied["evaluated"], replied["failed"]) == (20, 0)
    assert sorted({r["player"] for r in report["records"]}) == list(range(20))
    assert not [r for r in report["records"] if r["fallback"]]  # the endpoint answered each one


@pytest.fixture
def odo_answers_at_once(local: LocalProcess) -> Iterator[None]:
    # Odo's turns and the quest he writes answer at once: the check is about the quest's way
    # through the public routes and its flow, not the one CPU model's queue (in a full run the offer
    # once took longer than 600 s). His scripted words are no quest JSON, so the template's is offered.
    yield from scripted(local, "Aye, my lanterns want oil. Bring me some and I will pay you well.", "Odo")


@pytest.mark.timeout(1200)
def test_the_quest_world_check_completes_odos_quest_through_the_public_routes(
    local: LocalProcess, odo_answers_at_once: None, tmp_path: Path
) -> None:
    # Given the odo-quest scenario (its game_server token is signed with the local development key)
    # When a player talks to Odo, waits for his offer, accepts it, and the objectives are reported
    done, report = qa_run(local, "odo-quest.yaml", tmp_path)

    # Then the quest is read back completed, each step recorded
    assert done.returncode == 0, done.stdout + done.stderr
    [quest] = report["quests"]
    assert quest["state"] == "completed"
    assert quest["steps"][:2] == ["offered", "accepted"]
    assert quest["steps"][-1] == "completed"
    assert check(report, "quest_completes")["failed"] == 0
