"""The steps of the deployment state machine (`state_machines/model-deploy.asl.json`).

prepare -> update -> (wait, check)* -> smoke_test -> keep
                                   \\-> (wait, roll_back)* -> (wait, check)* -> fail
Each step takes the `DeployState` and returns it updated; the state machine decides from
`status` and `smoke.passed` where to go. `abort` ends a deployment that cannot go on (the
preparation failed, or the rollback did): the registry says why, the lock is released.

Every step may run twice (Step Functions retries a task; a Lambda may time out after its work is
done) and answers the second time as it did the first. The deployment holds its tier's lock, so
an update under way on the component is its own: `update` and `roll_back` never start a second
one, they wait for it (the `check` after them says what it ended serving). `keep`, `fail` and
`abort` end the deployment in the registry, which knows a deployment it ended already.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aicore.errors import AicoreError, ModelUnavailable, NotFound
from aicore.llm.endpoint import ChatCall, ModelEndpoint, TierTarget
from aicore.llm.tiers import Tier
from aicore.llm.wire import ChatMessage
from aicore.modelops.hosting import ModelHosting, ServingRecord
from aicore.modelops.models import DeployState, SmokeResult, sagemaker_model_name
from aicore.modelops.registry import ModelRegistry
from aicore.observability import logger

IN_PROGRESS = frozenset({"Creating", "Updating"})
SMOKE_MESSAGES = (
    ChatMessage(
        role="system",
        content="You are Maren, the innkeeper of a village inn in a fantasy game. Answer in one short line.",
    ),
    ChatMessage(role="user", content="Good evening! Have you a room for the night?"),
)
SMOKE_MAX_TOKENS = 16


class DeploymentError(AicoreError):
    """A deployment cannot go on."""


@dataclass(frozen=True)
class DeployDeps:
    registry: ModelRegistry
    hosting: ModelHosting
    serving: ServingRecord
    endpoint: ModelEndpoint
    targets: Mapping[Tier, TierTarget]
    poll_seconds: int = 30
    max_polls: int = 80
    smoke_timeout_s: float = 60.0
    clock: Callable[[], float] = time.perf_counter


def prepare(state: DeployState, deps: DeployDeps) -> DeployState:
    """Creates the version's SageMaker model, like the one serving now but for its weights and settings.

    The weights are the version's staged copy in the models bucket; the container runs with network
    isolation (it never reaches a hub).
    """
    deployment = state.deployment
    version = deps.registry.get_version(deployment.tier, deployment.version)
    if version is None:
        raise NotFound(f"The {deployment.tier} tier has no version {deployment.version!r}.")
    if not version.staged or version.weights is None or not version.weights.s3_uri:
        raise DeploymentError(
            f"Version {version.version} has no staged weights: import it first "
            f"(POST /models/{deployment.tier}/versions/{version.version}/import)."
        )
    target = _target(deps, deployment.tier)
    component = deps.hosting.describe_component(target)
    if component.status != "InService":
        raise DeploymentError(f"Inference component {component.name} is {component.status}: try again later.")
    serving = deps.hosting.describe_model(component.model_name)
    if serving is None:
        raise DeploymentError(f"The model {component.model_name} serving {component.name} does not exist.")
    model_name = sagemaker_model_name(component.name, version.version)
    if deps.hosting.describe_model(model_name) is None:
        deps.hosting.create_model(
            model_name,
            version.image_uri or serving.image,
            version.environment,
            serving.role_arn,
            model_data=version.weights.s3_uri,
        )
    deps.registry.record_model(deployment, model_name)
    return state.model_copy(
        update={
            "component": component.name,
            "endpoint": component.endpoint,
            "model_name": model_name,
            "previous_model": component.model_name,
            "expected_model": model_name,
            "poll_seconds": deps.poll_seconds,
            "max_polls": deps.max_polls,
        }
    )


def update(state: DeployState, deps: DeployDeps) -> DeployState:
    """Points the component at the version's model, unless this step did so already.

    `prepare` found the component InService and the tier's lock keeps other deployments off it, so
    an update under way (or the version's model serving) is this step's own, run before: the
    check loop waits for it and says whether it ended serving the version's model.
    """
    component = deps.hosting.describe_component(state.component)
    if component.status in IN_PROGRESS or component.model_name == state.model_name:
        logger.info(
            "Update under way or done already",
            extra={"component": component.name, "status": component.status, "model": state.model_name},
        )
    else:
        deps.hosting.update_component(component, state.model_name)
    return state.model_copy(update={"expected_model": state.model_name, "status": "in_progress", "polls": 0})


def check(state: DeployState, deps: DeployDeps) -> DeployState:
    """Whether the component serves `expected_model` now (in_service), not yet, or never will (failed)."""
    component = deps.hosting.describe_component(state.component)
    polls = state.polls + 1
    if component.status in IN_PROGRESS:
        if polls >= state.max_polls:
            failure = f"{component.name} was still {component.status} after {polls} checks"
            return state.model_copy(update={"status": "failed", "polls": polls, "failure": failure})
        return state.model_copy(update={"status": "in_progress", "polls": polls})
    if component.status == "InService" and component.model_name == state.expected_model:
        return state.model_copy(update={"status": "in_service", "polls": polls})
    failure = component.failure or (
        f"{component.name} is {component.status}, serving {component.model_name}, not {state.expected_model}"
    )
    return state.model_copy(update={"status": "failed", "polls": polls, "failure": failure})


def smoke_test(state: DeployState, deps: DeployDeps) -> DeployState:
    """A real generation through the tier's endpoint and component: text must come back."""
    started = deps.clock()
    first_token_ms: float | None = None
    pieces: list[str] = []
    try:
        stream = deps.endpoint.stream_chat(
            ChatCall(
                TierTarget(state.endpoint, state.component),
                SMOKE_MESSAGES,
                max_tokens=SMOKE_MAX_TOKENS,
                temperature=0.0,
                timeout_s=deps.smoke_timeout_s,
            )
        )
        for delta in stream:
            if first_token_ms is None:
                first_token_ms = round((deps.clock() - started) * 1000, 1)
            pieces.append(delta)
    except ModelUnavailable as error:
        smoke = SmokeResult(
            passed=False, first_token_ms=first_token_ms, tokens=len(pieces), error=error.message
        )
    else:
        text = "".join(pieces).strip()
        smoke = SmokeResult(
            passed=bool(text),
            first_token_ms=first_token_ms,
            tokens=len(pieces),
            text=text[:200],
            error=None if text else "the model answered with no text",
        )
    logger.info("Smoke test", extra={"component": state.component, "smoke": smoke.model_dump()})
    failure = None if smoke.passed else f"smoke test failed: {smoke.error}"
    return state.model_copy(update={"smoke": smoke, "failure": failure})


def keep(state: DeployState, deps: DeployDeps) -> DeployState:
    """The version serves: the registry says so (and records the model CloudFormation must keep
    serving), and the tier is free for the next deployment.

    The serving record is written only while this deployment holds the tier: a keep run again
    after it released the tier leaves the record to whoever deploys next, and the registry answers
    it as kept (or refuses a deployment it did not keep).
    """
    tier, _ = deps.registry.tier(state.deployment.tier)
    if tier.deploying is not None and tier.deploying.execution_name == state.deployment.execution_name:
        deps.serving.put(state.deployment.tier, state.model_name, overwrite=True)
    deps.registry.succeed(state.deployment, state.smoke)
    return state.model_copy(update={"status": "in_service"})


def roll_back(state: DeployState, deps: DeployDeps, caught: Mapping[str, Any] | None = None) -> DeployState:
    """Points the component back at what it served before (unless it still serves that).

    While the component is busy with an update (the forward one this deployment started, or this
    rollback's own, run before), it says `waiting`: the flow waits and runs it again once the
    update is over, up to `max_polls` times.
    """
    failure = state.failure or _caught(caught) or "the deployment failed"
    component = deps.hosting.describe_component(state.component)
    if component.status in IN_PROGRESS:
        polls = state.polls + 1 if state.status == "waiting" else 1
        if polls >= state.max_polls:
            raise DeploymentError(
                f"{component.name} was still {component.status} after {polls} checks: "
                "it cannot be rolled back."
            )
        return state.model_copy(update={"status": "waiting", "polls": polls, "failure": failure})
    if component.status == "InService" and component.model_name == state.previous_model:
        return state.model_copy(
            update={"expected_model": state.previous_model, "status": "in_service", "failure": failure}
        )
    deps.hosting.update_component(component, state.previous_model)
    return state.model_copy(
        update={
            "expected_model": state.previous_model,
            "status": "in_progress",
            "polls": 0,
            "failure": failure,
        }
    )


def fail(state: DeployState, deps: DeployDeps) -> DeployState:
    """The version does not serve; what served before does: the registry says so and why."""
    deps.registry.fail(state.deployment, state.failure or "the deployment failed", state.smoke)
    return state.model_copy(update={"status": "failed"})


def abort(state: DeployState, deps: DeployDeps, caught: Mapping[str, Any] | None = None) -> DeployState:
    """Ends a deployment that cannot go on; if the component may be serving something else, says so."""
    reason = _caught(caught) or state.failure or "the deployment could not go on"
    if state.expected_model and state.expected_model == state.previous_model:
        reason = f"rolling back failed, check {state.component} by hand: {reason}"
    deps.registry.fail(state.deployment, reason, state.smoke)
    return state.model_copy(update={"status": "failed", "failure": reason})


STEPS: Mapping[str, Callable[..., DeployState]] = {
    "prepare": prepare,
    "update": update,
    "check": check,
    "smoke_test": smoke_test,
    "keep": keep,
    "roll_back": roll_back,
    "fail": fail,
    "abort": abort,
}
TAKES_CAUGHT = frozenset({"roll_back", "abort"})


def run_step(
    step: str, state: DeployState, deps: DeployDeps, caught: Mapping[str, Any] | None = None
) -> DeployState:
    if step not in STEPS:
        raise DeploymentError(f"Unknown deployment step {step!r}: one of {', '.join(STEPS)}.")
    if step in TAKES_CAUGHT:
        return STEPS[step](state, deps, caught)
    return STEPS[step](state, deps)


def _target(deps: DeployDeps, tier: Tier) -> str:
    target = deps.targets.get(tier)
    if target is None or not target.component:
        raise DeploymentError(f"The {tier} tier has no inference component configured.")
    return target.component


def _caught(caught: Mapping[str, Any] | None) -> str | None:
    """The error a Catch put in the state (`{"Error": ..., "Cause": ...}`), in one line."""
    if not caught:
        return None
    return f"{caught.get('Error', 'Error')}: {str(caught.get('Cause', ''))[:500]}"
