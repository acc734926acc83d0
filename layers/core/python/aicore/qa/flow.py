"""The steps of the `qa-run` flow (state_machines/qa-run.asl.json): one batch of players, then the report.

Each batch writes its records to `runs/{run_id}/batches/{index}.json` and returns a small pointer
(Step Functions state stays far under 256 KB); the report step reads every batch back, judges
them (`aicore.qa.checks`) and writes `runs/{run_id}/report.json` and `report.html`. Keys are
deterministic: a redelivered step overwrites the same objects.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from aicore.qa.players import Environment, run_batch
from aicore.qa.records import BatchResult
from aicore.qa.report import build_report, render_html
from aicore.qa.scenario import MAX_BATCH, MAX_PLAYERS, Scenario

RunId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")]
Url = Annotated[str, StringConstraints(pattern=r"^(https?|wss?)://[^\s]{1,2000}$")]
MAX_BATCHES = MAX_PLAYERS  # a batch holds at least one player
JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"

Now = Callable[[], datetime.datetime]
PlayBatch = Callable[[Scenario, Environment, Sequence[int]], Coroutine[Any, Any, BatchResult]]


class RunStore(Protocol):
    """Where a run's objects live (S3 in the cloud and locally through moto)."""

    @property
    def bucket(self) -> str: ...

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...


def run_prefix(run_id: str) -> str:
    return f"runs/{run_id}/"


def batch_key(run_id: str, index: int) -> str:
    return f"{run_prefix(run_id)}batches/{index}.json"


def report_keys(run_id: str) -> tuple[str, str]:
    return f"{run_prefix(run_id)}report.json", f"{run_prefix(run_id)}report.html"


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: RunId
    scenario: Scenario
    http_url: Url


class BatchStep(_Step):
    step: Literal["batch"]
    index: int = Field(ge=0, lt=MAX_BATCHES)
    players: list[int] = Field(min_length=1, max_length=MAX_BATCH)
    ws_url: Url


class BatchWritten(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=0, lt=MAX_BATCHES)
    key: str
    turns: int


class ReportStep(_Step):
    step: Literal["report"]
    started_at: datetime.datetime  # the execution's start ($$.Execution.StartTime)
    batches: list[BatchWritten] = Field(min_length=1, max_length=MAX_BATCHES)


class ReportWritten(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passed: bool
    bucket: str
    report_key: str
    html_key: str
    failed_checks: list[str]


qa_step: TypeAdapter[BatchStep | ReportStep] = TypeAdapter(
    Annotated[BatchStep | ReportStep, Field(discriminator="step")]
)


class BatchOutOfRun(ValueError):
    """A report step named a batch that is not this run's."""


def play_batch(store: RunStore, step: BatchStep, play: PlayBatch = run_batch) -> BatchWritten:
    """The batch's players over the public protocol; their records overwrite the batch's object."""
    if any(player >= step.scenario.load.players or player < 0 for player in step.players):
        raise ValueError(f"batch {step.index}: players outside 0..{step.scenario.load.players - 1}")
    env = Environment(http_url=step.http_url, ws_url=step.ws_url)
    result = asyncio.run(play(step.scenario, env, step.players))
    key = batch_key(step.run_id, step.index)
    store.put(key, result.model_dump_json().encode(), JSON_TYPE)
    return BatchWritten(index=step.index, key=key, turns=len(result.turns))


def write_report(
    store: RunStore, step: ReportStep, now: Now = lambda: datetime.datetime.now(datetime.UTC)
) -> ReportWritten:
    """Every batch read back and judged; the report (JSON, HTML) overwrites the run's report objects."""
    batches = []
    for written in sorted(step.batches, key=lambda b: b.index):
        if written.key != batch_key(step.run_id, written.index):
            raise BatchOutOfRun(f"batch {written.index} of run {step.run_id} is not at its key")
        batches.append(BatchResult.model_validate_json(store.get(written.key)))
    started = step.started_at if step.started_at.tzinfo else step.started_at.replace(tzinfo=datetime.UTC)
    report = build_report(
        step.scenario,
        batches,
        step.http_url,
        started.isoformat(timespec="seconds"),
        max(0.0, (now() - started).total_seconds()),
    )
    json_key, html_key = report_keys(step.run_id)
    store.put(json_key, report.model_dump_json(indent=2).encode(), JSON_TYPE)
    store.put(html_key, render_html(report).encode(), HTML_TYPE)
    return ReportWritten(
        passed=report.passed,
        bucket=store.bucket,
        report_key=json_key,
        html_key=html_key,
        failed_checks=[check.check for check in report.checks if not check.passed],
    )


def run_qa_step(store: RunStore, event: Any) -> BatchWritten | ReportWritten:
    step = qa_step.validate_python(event)
    return play_batch(store, step) if isinstance(step, BatchStep) else write_report(store, step)
