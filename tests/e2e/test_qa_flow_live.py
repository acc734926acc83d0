"""The `qa-run` flow for real on `aicore local`: moto's Step Functions runs our ASL (its Distributed
Map inline), each batch's Lambda task runs the qa-players handler in process (the executor bridge),
the players log in and talk over the runtime's real WebSocket, and the report lands in the QA bucket.

Odo's model answers are scripted (the model server's `scripted` fault) so the two players' turns
are fast and the broken persona is deterministic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from aicore.local.embedded_aws import aws_client
from aicore.local.qa_cloud import CloudTarget, run_flow
from aicore.local.runtime import ENV
from aicore.local.smoke import local_ws_url
from aicore.qa.scenario import parse_scenario
from aicore.topology import QA_REPORTS, QA_RUN_FLOW, physical_name
from tests.e2e.local_process import LocalProcess
from tests.e2e.test_qa_live import BROKEN_LINE, scripted

pytestmark = [pytest.mark.model, pytest.mark.timeout(600)]

SCENARIO = parse_scenario(
    {
        "name": "flow-live",
        "conversation": [{"npc": "odo", "text": "Are you a real ferryman?"}],
        "load": {"players": 2, "turns_each": 1, "batch_size": 1},  # two batches: two map items
    }
)


@pytest.fixture(scope="module")
def local() -> Iterator[LocalProcess]:
    with LocalProcess() as running:
        yield running
        running.stop()


@pytest.fixture
def odo_breaks_character(local: LocalProcess) -> Iterator[None]:
    yield from scripted(local, BROKEN_LINE, "You are Odo.")


def aws_url(local: LocalProcess) -> str:
    found = re.search(r"^\s*AWS \(moto\)\s+(\S+)", local.banner, re.MULTILINE)
    assert found, local.banner
    return found.group(1)


def test_the_flow_runs_two_batches_and_writes_the_report_to_the_bucket(
    local: LocalProcess, odo_breaks_character: None
) -> None:
    # Given the runtime's qa-run state machine and its two public URLs
    stepfunctions = aws_client("stepfunctions", aws_url(local))
    machines = stepfunctions.list_state_machines()["stateMachines"]
    arn = next(m["stateMachineArn"] for m in machines if m["name"] == physical_name(ENV, QA_RUN_FLOW))
    target = CloudTarget(arn, local.base, local_ws_url(local.base))

    # When the flow runs a scenario of two players (one batch each)
    written = run_flow(stepfunctions, SCENARIO, target, "flow-live-1", timeout_s=300)

    # Then the report in the QA bucket fails Odo's persona, naming both players' turns
    assert written.bucket == physical_name(ENV, QA_REPORTS.name)
    assert not written.passed
    assert "in_character" in written.failed_checks
    s3 = aws_client("s3", aws_url(local))
    keys = {
        o["Key"] for o in s3.list_objects_v2(Bucket=written.bucket, Prefix="runs/flow-live-1/")["Contents"]
    }
    assert keys == {
        "runs/flow-live-1/batches/0.json",
        "runs/flow-live-1/batches/1.json",
        "runs/flow-live-1/report.json",
        "runs/flow-live-1/report.html",
    }
    report = json.loads(s3.get_object(Bucket=written.bucket, Key=written.report_key)["Body"].read())
    assert report["players"] == 2
    assert report["turns"] == 2
    in_character = next(c for c in report["checks"] if c["check"] == "in_character")
    assert sorted(f["where"].split(" turn")[0] for f in in_character["failures"]) == ["player 0", "player 1"]
    assert next(c for c in report["checks"] if c["check"] == "guest_login")["failed"] == 0
