"""`aicore qa run --env`: the flow started with the scenario, its batches and the stack's URLs, waited
for with a deadline, and its report's place printed; exit 1 when a check failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aicore.local import qa_cloud
from aicore.local.cli import main
from aicore.local.qa_cloud import (
    CloudTarget,
    FlowFailed,
    flow_input,
    new_run_id,
    run_flow,
    target_from_outputs,
)
from aicore.qa.flow import ReportWritten
from aicore.qa.scenario import parse_scenario

PERSONAS = str(Path(__file__).resolve().parents[2] / "qa" / "scenarios" / "personas.yaml")
SCENARIO = parse_scenario(
    {
        "name": "cloud",
        "conversation": [{"npc": "odo", "text": "Hello"}],
        "load": {"players": 5, "turns_each": 1, "batch_size": 2},
    }
)
TARGET = CloudTarget(
    "arn:aws:states:eu-west-1:1:stateMachine:aicore-dev-qa-run", "https://api", "wss://ws/dev"
)
WRITTEN = ReportWritten(
    passed=False, bucket="qa-b", report_key="runs/r/report.json", html_key="runs/r/report.html",
    failed_checks=["in_character"],
)  # fmt: skip


class FakeStepFunctions:
    """Answers RUNNING `running` times, then `final` (a describe_execution answer)."""

    def __init__(self, final: dict[str, Any], running: int = 2) -> None:
        self.final, self.running = final, running
        self.started: list[dict[str, Any]] = []

    def start_execution(self, **request: Any) -> dict[str, str]:
        self.started.append(request)
        return {"executionArn": f"arn:execution:{request['name']}"}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803  # boto3's name
        if self.running:
            self.running -= 1
            return {"status": "RUNNING"}
        return self.final


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_flow_gets_the_scenario_its_batches_and_the_urls_and_answers_the_report() -> None:
    # Given a flow that runs two polls, then succeeds
    flows, time = FakeStepFunctions({"status": "SUCCEEDED", "output": WRITTEN.model_dump_json()}), FakeTime()

    # When it is run
    written = run_flow(flows, SCENARIO, TARGET, "run-1", clock=time.clock, sleep=time.sleep)

    # Then the execution is named after the run and carries what the batches need
    assert written == WRITTEN
    (started,) = flows.started
    assert started["name"] == "run-1"
    assert started["stateMachineArn"] == TARGET.state_machine_arn
    sent = json.loads(started["input"])
    assert sent == flow_input(SCENARIO, "run-1", TARGET)
    assert sent["batches"] == [[0, 1], [2, 3], [4]]
    assert (sent["http_url"], sent["ws_url"]) == ("https://api", "wss://ws/dev")


def test_a_failed_execution_says_its_error_and_cause() -> None:
    flows = FakeStepFunctions({"status": "FAILED", "error": "States.TaskFailed", "cause": "boom"})
    with pytest.raises(FlowFailed, match=r"ended FAILED \(States.TaskFailed: boom\)"):
        run_flow(flows, SCENARIO, TARGET, "run-1", clock=FakeTime().clock, sleep=FakeTime().sleep)


def test_waiting_ends_at_the_deadline_and_says_the_execution_goes_on() -> None:
    time = FakeTime()
    flows = FakeStepFunctions({"status": "SUCCEEDED"}, running=10**6)
    with pytest.raises(FlowFailed, match="still running after 60 s"):
        run_flow(flows, SCENARIO, TARGET, "run-1", timeout_s=60, clock=time.clock, sleep=time.sleep)
    assert time.now <= 60 + qa_cloud.POLL_S


def test_the_target_comes_from_the_stack_outputs_or_says_what_is_missing() -> None:
    outputs = {"HttpUrl": "https://api", "WebSocketUrl": "wss://ws/dev", "QaRunStateMachineArn": "arn:m"}
    assert target_from_outputs(outputs, "aicore-dev") == CloudTarget("arn:m", "https://api", "wss://ws/dev")
    with pytest.raises(FlowFailed, match="aicore-dev has no output QaRunStateMachineArn"):
        target_from_outputs({"HttpUrl": "h", "WebSocketUrl": "w"}, "aicore-dev")


def test_run_ids_are_valid_execution_names() -> None:
    import datetime

    long = parse_scenario(SCENARIO.model_dump(mode="json") | {"name": "x" * 64})
    run_id = new_run_id(long, datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC))
    assert len(run_id) <= 80
    assert run_id.startswith("x" * 40 + "-20261201T000000Z-")


@pytest.mark.parametrize(("passed", "code"), [(True, 0), (False, 1)])
def test_qa_run_env_prints_where_the_report_is_and_exits_1_on_a_failed_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], passed: bool, code: int
) -> None:
    # Given a deployed environment whose flow writes a report
    answer = WRITTEN.model_copy(
        update={"passed": passed, "failed_checks": [] if passed else ["in_character"]}
    )
    flows = FakeStepFunctions({"status": "SUCCEEDED", "output": answer.model_dump_json()}, running=0)
    asked: list[tuple[str, str | None, str | None]] = []

    def stack_target(env: str, region: str | None, profile: str | None) -> tuple[CloudTarget, Any]:
        asked.append((env, region, profile))
        return TARGET, flows

    monkeypatch.setattr(qa_cloud, "stack_target", stack_target)

    # When `aicore qa run --env dev` runs the personas scenario
    exit_code = main(["qa", "run", PERSONAS, "--env", "dev", "--region", "eu-west-1"])

    # Then the flow ran in that stack and the report's place is printed
    out = capsys.readouterr().out
    assert exit_code == code
    assert asked == [("dev", "eu-west-1", None)]
    assert "s3://qa-b/runs/r/report.json and s3://qa-b/runs/r/report.html" in out
    assert ("all checks passed" in out) is passed


def test_qa_run_env_without_a_stack_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_stack(env: str, region: str | None, profile: str | None) -> tuple[CloudTarget, Any]:
        raise FlowFailed("stack aicore-nope has no output HttpUrl: is it deployed with the QA flow?")

    monkeypatch.setattr(qa_cloud, "stack_target", no_stack)
    assert main(["qa", "run", PERSONAS, "--env", "nope"]) == 1
    err = capsys.readouterr().err
    assert "aicore-nope has no output HttpUrl" in err
    assert "Traceback" not in err
