"""`aicore qa run SCENARIO --env NAME`: the `qa-run` flow of a deployed stack runs the players.

The stack's outputs give the flow's ARN and the public URLs (as `aicore smoke --env` finds them);
the execution's input carries the scenario, its batches and the URLs; its output points at the
report in the QA reports bucket. No game_server token travels in the input (execution data is
logged): a scenario's quest checks are reported as not run.
"""

from __future__ import annotations

import datetime
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aicore.qa.flow import ReportWritten
from aicore.qa.scenario import Scenario
from aicore.topology import SERVICE

OUTPUTS = ("HttpUrl", "WebSocketUrl", "QaRunStateMachineArn")
POLL_S = 2.0
DEFAULT_TIMEOUT_S = 3600.0


class FlowFailed(RuntimeError):
    """The flow did not end with a report (failed, timed out, aborted, or still running at the deadline)."""


@dataclass(frozen=True)
class CloudTarget:
    state_machine_arn: str
    http_url: str
    ws_url: str


def target_from_outputs(outputs: dict[str, str], stack: str) -> CloudTarget:
    missing = [key for key in OUTPUTS if key not in outputs]
    if missing:
        raise FlowFailed(
            f"stack {stack} has no output {', '.join(missing)}: is it deployed with the QA flow?"
        )
    return CloudTarget(outputs["QaRunStateMachineArn"], outputs["HttpUrl"], outputs["WebSocketUrl"])


def stack_target(env: str, region: str | None, profile: str | None) -> tuple[CloudTarget, Any]:
    """The target from the outputs of the stack `aicore-<env>`, and a Step Functions client."""
    import boto3

    session = boto3.session.Session(region_name=region, profile_name=profile)
    stack = f"{SERVICE}-{env}"
    stacks = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return target_from_outputs(outputs, stack), session.client("stepfunctions")


def new_run_id(scenario: Scenario, now: datetime.datetime) -> str:
    """Unique, readable, and a valid execution name (at most 80 characters)."""
    return f"{scenario.name[:40]}-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def flow_input(scenario: Scenario, run_id: str, target: CloudTarget) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "scenario": scenario.model_dump(mode="json"),
        "batches": scenario.batches(),
        "http_url": target.http_url,
        "ws_url": target.ws_url,
    }


def run_flow(
    stepfunctions: Any,
    scenario: Scenario,
    target: CloudTarget,
    run_id: str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReportWritten:
    """Starts the flow (the execution is named after the run) and waits until it ends, or the deadline."""
    started = stepfunctions.start_execution(
        stateMachineArn=target.state_machine_arn,
        name=run_id,
        input=json.dumps(flow_input(scenario, run_id, target)),
    )
    execution = str(started["executionArn"])
    deadline = clock() + timeout_s
    while True:
        described = stepfunctions.describe_execution(executionArn=execution)
        status = described["status"]
        if status == "SUCCEEDED":
            return ReportWritten.model_validate_json(described["output"])
        if status != "RUNNING":
            why = ": ".join(str(described[k]) for k in ("error", "cause") if described.get(k))
            raise FlowFailed(f"execution {execution} ended {status}" + (f" ({why[:500]})" if why else ""))
        if clock() >= deadline:
            raise FlowFailed(f"execution {execution} still running after {timeout_s:.0f} s (it goes on)")
        sleep(POLL_S)


def where(report: ReportWritten) -> str:
    return f"s3://{report.bucket}/{report.report_key} and s3://{report.bucket}/{report.html_key}"
