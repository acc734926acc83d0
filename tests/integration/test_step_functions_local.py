"""Our ASL runs for real on moto's Step Functions; Lambda tasks reach our handlers in process."""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aicore.local.embedded_aws import aws_client
from aicore.local.lambdas import Lambdas
from aicore.local.runtime import ENV, LocalRuntime
from aicore.local.step_functions import LambdaBridge, create_state_machines, fill
from aicore.topology import TOPOLOGY, Function, StateMachine, Topology
from tests.waiting import finished_execution

HANDLER = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"doubled": event["n"] * 2, "table": __import__("os").environ.get("probe_table", "-")}
"""

DEFINITION = {
    "StartAt": "Double",
    "States": {
        "Double": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${PROBE_TASK_FUNCTION_ARN}", "Payload.$": "$"},
            "OutputPath": "$.Payload",
            "Retry": [{"ErrorEquals": ["ValueError"], "MaxAttempts": 1, "IntervalSeconds": 1}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed", "ResultPath": "$.error"}],
            "Next": "Done",
        },
        "Failed": {"Type": "Pass", "Result": {"outcome": "caught"}, "End": True},
        "Done": {
            "Type": "Pass",
            "Parameters": {"outcome": "ok", "doubled.$": "$.doubled", "bus": "${EVENT_BUS_NAME}"},
            "End": True,
        },
    },
}


@pytest.fixture
def probe(runtime: LocalRuntime, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    # Given a topology with one function and one state machine that invokes it
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "handler.py").write_text(HANDLER)
    (tmp_path / "probe.asl.json").write_text(json.dumps(DEFINITION))
    topology = Topology(
        tables=TOPOLOGY.tables,
        buckets=TOPOLOGY.buckets,
        bus=TOPOLOGY.bus,
        model_tiers=TOPOLOGY.model_tiers,
        authorizer=TOPOLOGY.authorizer,
        functions=(Function(name="probe-task", description="doubles", code="fn"),),
        state_machines=(
            StateMachine(
                name="probe", description="probe", invokes=("probe-task",), definition="probe.asl.json"
            ),
        ),
    )
    bridge = LambdaBridge(Lambdas(topology, root=tmp_path), ENV, topology)
    bridge.install()
    arns = create_state_machines(runtime.aws.url, ENV, topology, root=tmp_path)
    yield arns["PROBE_STATE_MACHINE_ARN"], aws_client("stepfunctions", runtime.aws.url)
    bridge.uninstall()


def _run(client: Any, arn: str, payload: dict[str, Any]) -> dict[str, Any]:
    name = uuid.uuid4().hex  # moto names unnamed executions "None": always name them
    execution = client.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))[
        "executionArn"
    ]
    return finished_execution(client, execution, timeout_s=60)


def test_task_runs_our_handler(probe: tuple[str, Any]) -> None:
    arn, client = probe
    done = _run(client, arn, {"n": 21})
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"outcome": "ok", "doubled": 42, "bus": "aicore-local-events"}


def test_failing_task_is_retried_then_caught(probe: tuple[str, Any]) -> None:
    arn, client = probe
    done = _run(client, arn, {"n": 1, "fail": True})
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"outcome": "caught"}


def test_fill_refuses_unknown_placeholders() -> None:
    assert fill("${A}-${A}", {"A": "x"}) == "x-x"
    with pytest.raises(KeyError, match="MISSING"):
        fill("${MISSING}", {})
