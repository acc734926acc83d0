"""Fakes for model management: the registry in memory, SageMaker's control plane, a flow starter."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from aicore.clock import utc_now
from aicore.errors import Conflict
from aicore.flows import FlowStarted
from aicore.llm.tiers import Tier
from aicore.local.sagemaker_control import ControlPlaneError, LocalHosting
from aicore.modelops.models import DEPLOYABLE, Deployment, ModelVersion, SmokeResult, TierState, VersionStatus


@dataclass
class FakeRegistry:
    """`ModelRegistry` in memory, with the same rules as the DynamoDB one: one deployment per tier."""

    versions: dict[tuple[Tier, str], ModelVersion] = field(default_factory=dict)
    states: dict[Tier, TierState] = field(default_factory=dict)

    def create_version(self, version: ModelVersion) -> ModelVersion | None:
        existing = self.versions.get((version.tier, version.version))
        if existing is None:
            self.versions[(version.tier, version.version)] = version
        return existing

    def get_version(self, tier: Tier, version: str) -> ModelVersion | None:
        return self.versions.get((tier, version))

    def tier(self, tier: Tier) -> tuple[TierState, list[ModelVersion]]:
        versions = [v for (t, _), v in self.versions.items() if t == tier]
        return self.state(tier), sorted(versions, key=lambda v: v.created_at, reverse=True)

    def state(self, tier: Tier) -> TierState:
        return self.states.get(tier, TierState(tier=tier))

    def begin(self, deployment: Deployment) -> None:
        state = self.state(deployment.tier)
        if state.deploying is not None:
            raise Conflict(f"A deployment of the {deployment.tier} tier is already running.")
        version = self.versions[(deployment.tier, deployment.version)]
        if version.status not in DEPLOYABLE:
            raise Conflict(f"Version {version.version} is {version.status}.")
        self.states[deployment.tier] = state.model_copy(update={"deploying": deployment})
        self._set(deployment.tier, deployment.version, status=VersionStatus.DEPLOYING)

    def cancel(self, deployment: Deployment, status: VersionStatus) -> None:
        self._release(deployment)
        self._set(deployment.tier, deployment.version, status=status)

    def record_model(self, deployment: Deployment, sagemaker_model: str) -> None:
        self._set(deployment.tier, deployment.version, sagemaker_model=sagemaker_model)

    def succeed(self, deployment: Deployment, smoke: SmokeResult | None) -> TierState:
        history = list(self._release(deployment).history)
        if deployment.kind == "rollback":
            while history and history[-1] != deployment.version:
                history.pop()
        if not history or history[-1] != deployment.version:
            history.append(deployment.version)
        self.states[deployment.tier] = self.state(deployment.tier).model_copy(update={"history": history})
        self._set(
            deployment.tier, deployment.version, status=VersionStatus.IN_SERVICE, smoke=smoke, failure=None
        )
        if deployment.from_version and deployment.from_version != deployment.version:
            replaced = (
                VersionStatus.ROLLED_BACK if deployment.kind == "rollback" else VersionStatus.SUPERSEDED
            )
            self._set(deployment.tier, deployment.from_version, status=replaced)
        return self.state(deployment.tier)

    def fail(self, deployment: Deployment, failure: str, smoke: SmokeResult | None) -> TierState:
        self._release(deployment)
        self._set(
            deployment.tier, deployment.version, status=VersionStatus.FAILED, failure=failure, smoke=smoke
        )
        return self.state(deployment.tier)

    def _release(self, deployment: Deployment) -> TierState:
        state = self.state(deployment.tier)
        if state.deploying is None or state.deploying.execution_name != deployment.execution_name:
            raise Conflict(f"Deployment {deployment.execution_name} no longer holds the tier.")
        self.states[deployment.tier] = state.model_copy(update={"deploying": None})
        return self.states[deployment.tier]

    def _set(self, tier: Tier, version: str, **changes: Any) -> None:
        current = self.versions[(tier, version)]
        self.versions[(tier, version)] = current.model_copy(update={**changes, "updated_at": utc_now()})


class LocalSageMakerClient:
    """A boto3-like `sagemaker` client answered by the local control plane, in process (no sockets)."""

    def __init__(self, hosting: LocalHosting) -> None:
        self.hosting = hosting
        self.calls: list[str] = []

    def __getattr__(self, method: str) -> Any:
        operation = "".join(part.title() for part in method.split("_"))

        def call(**request: Any) -> dict[str, Any]:
            self.calls.append(operation)
            try:
                return self.hosting.handle(operation, request)
            except ControlPlaneError as error:
                raise ClientError({"Error": {"Code": error.code, "Message": str(error)}}, operation) from None

        return call


@dataclass
class FakeStarter:
    """`FlowStarter` that records what it was asked to start (or fails, when told to)."""

    started: list[tuple[str, str, Mapping[str, Any]]] = field(default_factory=list)
    failing: bool = False

    def start(self, machine: str, name: str, payload: Mapping[str, Any]) -> FlowStarted:
        if self.failing:
            raise RuntimeError("Step Functions is unreachable")
        self.started.append((machine, name, payload))
        arn = f"arn:aws:states:us-east-1:123456789012:execution:{re.sub('[^a-z-]', '', machine)}:{name}"
        return FlowStarted(execution_arn=arn, started=True)
