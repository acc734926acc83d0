"""CloudFormation's custom resource for each model tier: stage its weights, say which model serves it."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.modelops.tier_setup import TierSetupDeps, handle
from aicore.observability import entrypoint


@entrypoint(correlation_id_path="RequestId")
def handler(
    event: dict[str, Any], context: LambdaContext, deps: TierSetupDeps | None = None
) -> dict[str, Any]:
    """The provider framework's onEvent and isComplete calls (see `aicore.modelops.tier_setup`)."""
    return handle(event, deps or wiring.tier_setup_deps())
