"""The qa-run flow's steps: a batch writes its records under a deterministic key, the report reads
them back; each step run twice leaves the same objects (Step Functions may deliver a step again)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from aicore.aws.qa_runs import S3QaRuns
from aicore.qa.flow import (
    BatchOutOfRun,
    BatchStep,
    ReportStep,
    batch_key,
    play_batch,
    qa_step,
    report_keys,
    write_report,
)
from aicore.qa.players import Environment
from aicore.qa.records import BatchResult, TurnRecord
from aicore.qa.scenario import Scenario, parse_scenario
from aicore.topology import QA_REPORTS, TOPOLOGY
from tests.handlers import invoke

STARTED = datetime.datetime(2026, 12, 1, 11, 0, tzinfo=datetime.UTC)
SCENARIO: dict[str, Any] = {
    "name": "flow",
    "conversation": [{"npc": "odo", "text": "Are you real?"}],
    "load": {"players": 3, "turns_each": 1, "batch_size": 2},
}


class FakeRuns:
    """The run store, in memory: every put is kept, so overwrites are visible."""

    bucket = "qa-bucket"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts: list[str] = []

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = data
        self.puts.append(key)

    def get(self, key: str) -> bytes:
        return self.objects[key]


def reply_of(player: int, text: str = "Aye, the lake is calm.") -> TurnRecord:
    return TurnRecord(
        player=player, turn=1, npc="odo", said="Are you real?", reply=text, tier="gold", tokens=3,
        first_token_ms=10.0, total_ms=40.0,
    )  # fmt: skip


class FakePlayers:
    """Stands in for `run_batch`: each player answered by `text`; counts the batches it played."""

    def __init__(self, text: str = "Aye, the lake is calm.") -> None:
        self.text = text
        self.played: list[list[int]] = []

    async def __call__(self, scenario: Scenario, env: Environment, players: Sequence[int]) -> BatchResult:
        self.played.append(list(players))
        return BatchResult(turns=[reply_of(p, self.text) for p in players])


def batch_step(index: int, players: list[int], run_id: str = "run-1") -> BatchStep:
    event = {
        "step": "batch", "run_id": run_id, "index": index, "players": players, "scenario": SCENARIO,
        "http_url": "https://api.example", "ws_url": "wss://ws.example/live",
    }  # fmt: skip
    step = qa_step.validate_python(event)
    assert isinstance(step, BatchStep)
    return step


def report_event(written: list[dict[str, Any]], run_id: str = "run-1") -> dict[str, Any]:
    return {
        "step": "report", "run_id": run_id, "scenario": SCENARIO, "http_url": "https://api.example",
        "started_at": "2026-12-01T11:00:00Z", "batches": written,
    }  # fmt: skip


def test_a_batch_delivered_twice_overwrites_its_one_object() -> None:
    # Given a batch of two players
    runs, players = FakeRuns(), FakePlayers()
    step = batch_step(1, [2])

    # When the step is delivered twice
    first = play_batch(runs, step, players)
    second = play_batch(runs, step, players)

    # Then both wrote the same key, and one object holds the batch's records
    assert first == second
    assert first.key == batch_key("run-1", 1) == "runs/run-1/batches/1.json"
    assert set(runs.objects) == {first.key}
    assert runs.puts == [first.key, first.key]
    assert [t.player for t in BatchResult.model_validate_json(runs.objects[first.key]).turns] == [2]


def test_the_report_reads_every_batch_judges_and_is_the_same_when_run_twice() -> None:
    # Given both batches written, one player's reply breaking character
    runs = FakeRuns()
    written = [play_batch(runs, batch_step(0, [0, 1]), FakePlayers()).model_dump()]
    written.append(play_batch(runs, batch_step(1, [2]), FakePlayers("As an AI, I cannot row.")).model_dump())
    step = qa_step.validate_python(report_event(written))
    assert isinstance(step, ReportStep)

    # When the report step runs twice
    def now() -> datetime.datetime:
        return STARTED + datetime.timedelta(seconds=42)

    first = write_report(runs, step, now)
    before = dict(runs.objects)
    second = write_report(runs, step, now)

    # Then the same report overwrites the same two objects, and it names the failed turn
    assert first == second
    assert runs.objects == before
    assert (first.report_key, first.html_key) == report_keys("run-1")
    assert first.bucket == "qa-bucket"
    assert not first.passed
    assert first.failed_checks == ["in_character"]
    report = json.loads(runs.objects[first.report_key])
    assert report["players"] == 3
    assert report["turns"] == 3
    assert report["wall_s"] == 42
    failure = next(c for c in report["checks"] if c["check"] == "in_character")["failures"][0]
    assert failure["where"].startswith("player 2 turn 1")
    assert b"FAILED" in runs.objects[first.html_key]


def test_the_report_refuses_a_batch_key_outside_its_run() -> None:
    runs = FakeRuns()
    written = play_batch(runs, batch_step(0, [0, 1], run_id="other"), FakePlayers()).model_dump()
    step = qa_step.validate_python(report_event([written]))
    assert isinstance(step, ReportStep)
    with pytest.raises(BatchOutOfRun):
        write_report(runs, step)


@pytest.mark.parametrize(
    "change",
    [{"run_id": "../x"}, {"players": []}, {"ws_url": "ftp://x"}, {"step": "drop"}, {"extra": 1}],
)
def test_a_step_is_parsed_strictly(change: dict[str, Any]) -> None:
    event = batch_step(0, [0]).model_dump(mode="json") | change
    with pytest.raises(ValidationError):
        qa_step.validate_python(event)


def test_a_batch_naming_a_player_the_scenario_has_not_is_refused() -> None:
    with pytest.raises(ValueError, match="players outside"):
        play_batch(FakeRuns(), batch_step(0, [5]), FakePlayers())


def test_the_handler_writes_the_report_to_s3_and_answers_a_small_pointer() -> None:
    # Given a batch's records in the QA bucket (moto in process)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="qa-test")
        runs = S3QaRuns("qa-test")
        written = play_batch(runs, batch_step(0, [0, 1]), FakePlayers()).model_dump()

        # When the function runs the report step (twice: a redelivery)
        answers = [invoke("qa-players", report_event([written]), runs=runs) for _ in range(2)]

        # Then the report is in the bucket, and the answer is a pointer, not the report
        assert answers[0] == answers[1]
        assert answers[0]["bucket"] == "qa-test"
        assert answers[0]["report_key"] == "runs/run-1/report.json"
        assert len(json.dumps(answers[0])) < 1000
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="qa-test")["Contents"])
        assert keys == ["runs/run-1/batches/0.json", "runs/run-1/report.html", "runs/run-1/report.json"]
        html = s3.get_object(Bucket="qa-test", Key="runs/run-1/report.html")
        assert html["ContentType"].startswith("text/html")


def test_the_flow_and_its_bucket_are_in_the_topology() -> None:
    machine = TOPOLOGY.state_machine("qa-run")
    assert machine.distributed_map
    assert machine.invokes == ("qa-players",)
    assert QA_REPORTS in TOPOLOGY.buckets
    assert QA_REPORTS.objects_prefix == "runs/"
    assert TOPOLOGY.function("qa-players").client_sdk
    asl = json.loads(Path(machine.definition_path).read_text(encoding="utf-8"))
    config = asl["States"]["Players"]["ItemProcessor"]["ProcessorConfig"]
    assert config == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}


def test_a_scenario_from_the_flow_input_is_the_cli_scenario() -> None:
    assert batch_step(0, [0]).scenario == parse_scenario(SCENARIO)


def test_the_functions_learn_the_qa_bucket_from_their_environment() -> None:
    from aicore.settings import Settings
    from aicore.topology import resource_environment

    settings = Settings.from_environment(resource_environment("dev"))
    assert settings.qa_reports_bucket == "aicore-dev-qa-reports"
