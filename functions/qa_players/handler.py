"""The qa-run flow's steps: one batch of synthetic players (a Distributed Map item), then the report."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.observability import entrypoint
from aicore.qa.flow import RunStore, run_qa_step


@entrypoint(correlation_id_path="run_id")
def handler(event: dict[str, Any], context: LambdaContext, runs: RunStore | None = None) -> dict[str, Any]:
    return run_qa_step(runs or wiring.qa_runs(), event).model_dump(mode="json")
