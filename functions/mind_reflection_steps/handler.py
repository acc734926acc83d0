"""The reflection flow's steps (gather, reflect, reflect_scripted, record): one Step Functions task each."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.mind.reflection import ReflectionDeps, reflection_step, run_step
from aicore.observability import entrypoint


@entrypoint(correlation_id_path="npc_id")
def handler(
    event: dict[str, Any], context: LambdaContext, deps: ReflectionDeps | None = None
) -> dict[str, Any]:
    step = reflection_step.validate_python(event)
    return run_step(deps or wiring.reflection_deps(), step).model_dump(mode="json")
