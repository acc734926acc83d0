"""The rehydrate flow's steps (claim, restore, discard, release): one Step Functions task each."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.observability import entrypoint
from aicore.sessions.flow_steps import rehydrate_step, run_rehydrate_step
from aicore.sessions.tiers import Tiering


@entrypoint(correlation_id_path="session_id")
def handler(event: dict[str, Any], context: LambdaContext, tiering: Tiering | None = None) -> dict[str, Any]:
    step = rehydrate_step.validate_python(event)
    return run_rehydrate_step(tiering or wiring.tiering(), step).model_dump(mode="json")
