"""The model deployment flow's steps (prepare, update, check, smoke test, keep, roll back, fail, abort)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.modelops.deploy import DeployDeps, run_step
from aicore.modelops.models import DeployState
from aicore.observability import entrypoint


@entrypoint(correlation_id_path="state.deployment.execution_name")
def handler(event: dict[str, Any], context: LambdaContext, deps: DeployDeps | None = None) -> dict[str, Any]:
    """`{"step": ..., "state": DeployState}` in, the state after the step out.

    A Catch puts the error it caught under `caught` in the state: the steps that handle
    failures (`roll_back`, `abort`) read it from there.
    """
    state = dict(event["state"])
    caught = state.pop("caught", None)
    result = run_step(event["step"], DeployState.model_validate(state), deps or wiring.deploy_deps(), caught)
    return result.model_dump(mode="json")
