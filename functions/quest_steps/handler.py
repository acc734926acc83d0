"""The quest flow's steps (await, complete, expire): one Step Functions task each."""

from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from aicore import wiring
from aicore.observability import entrypoint
from aicore.quests.service import StepDeps, StepInput, await_progress, complete, expire


class Step(StepInput):
    step: Literal["await", "complete", "expire"]
    task_token: str | None = Field(None, min_length=1, max_length=1024)


@entrypoint(correlation_id_path="quest_id")
def handler(event: dict[str, Any], context: LambdaContext, deps: StepDeps | None = None) -> dict[str, Any]:
    step = Step.model_validate(event)
    deps = deps or wiring.quest_step_deps()
    if step.step == "await":
        if step.task_token is None:
            raise ValueError("the await step needs the flow's task token")
        return await_progress(deps.quests, step, step.task_token)
    if step.step == "complete":
        return complete(deps, step)
    return expire(deps.quests, step)
