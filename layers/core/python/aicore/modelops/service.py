"""Model management: list, register, import, deploy and roll back model versions of the shared tiers.

The tiers serve every world, so managing their models is the platform's business: admin tokens
only. A studio token, of any world, is refused (403) like a player's.
"""

from __future__ import annotations

import re
import uuid

from pydantic import BaseModel

from aicore.auth import Caller, Role
from aicore.errors import Conflict, Forbidden, NotFound
from aicore.flows import FlowStarter
from aicore.llm.tiers import Tier
from aicore.modelops.models import (
    Deployment,
    DeployState,
    ModelVersion,
    StagedWeights,
    TierState,
    VersionSpec,
    WeightsStatus,
)
from aicore.modelops.registry import ModelRegistry
from aicore.modelops.staging import ImportRequest, ImportState
from aicore.topology import MODEL_DEPLOY_FLOW, MODEL_IMPORT_FLOW

MODEL_DEPLOY = MODEL_DEPLOY_FLOW  # the state machines, by topology name
MODEL_IMPORT = MODEL_IMPORT_FLOW


class TierView(BaseModel):
    tier: Tier
    live_version: str | None
    previous_version: str | None
    history: list[str]
    deploying: Deployment | None
    versions: list[ModelVersion]


class DeploymentStarted(BaseModel):
    deployment: Deployment
    execution_arn: str


class ImportStarted(BaseModel):
    tier: Tier
    version: str
    execution_arn: str


def require_model_admin(caller: Caller) -> None:
    """The model tiers are shared by every world: only an admin manages what they serve."""
    if not caller.has(Role.ADMIN):
        raise Forbidden("Managing the shared model tiers takes an admin token.")


def tier_view(registry: ModelRegistry, tier: Tier, caller: Caller) -> TierView:
    require_model_admin(caller)
    state, versions = registry.tier(tier)
    return _view(state, versions)


def get_version(registry: ModelRegistry, tier: Tier, version: str, caller: Caller) -> ModelVersion:
    require_model_admin(caller)
    return _require_version(registry, tier, version)


def register_version(registry: ModelRegistry, tier: Tier, spec: VersionSpec, caller: Caller) -> ModelVersion:
    """Registers a version once; registering the same spec again returns it, another spec is a conflict."""
    require_model_admin(caller)
    version = ModelVersion.register(tier, spec, caller.subject)
    existing = registry.create_version(version)
    if existing is None:
        return version
    if existing.spec() != spec:
        raise Conflict(
            f"Version {spec.version} of the {tier} tier is registered already, with other settings: "
            "register the new settings under a new version id.",
            {"tier": tier.value, "version": spec.version},
        )
    return existing


def import_weights(
    registry: ModelRegistry, starter: FlowStarter, tier: Tier, version: str, caller: Caller
) -> ImportStarted:
    """Starts the import flow: the version's pinned revision is copied into the models bucket."""
    require_model_admin(caller)
    found = _require_version(registry, tier, version)
    name = _execution_name(tier, f"import-{found.version}")
    registry.begin_import(tier, found.version, name)
    request = ImportRequest(model=found.model, tier=tier, version=found.version, execution_name=name)
    try:
        started = starter.start(MODEL_IMPORT, name, ImportState(request=request).model_dump(mode="json"))
    except Exception:
        failed = StagedWeights(
            status=WeightsStatus.FAILED, execution_name=name, failure="the import flow could not be started"
        )
        registry.record_weights(tier, found.version, failed)
        raise
    return ImportStarted(tier=tier, version=found.version, execution_arn=started.execution_arn)


def deploy(
    registry: ModelRegistry, starter: FlowStarter, tier: Tier, version: str, caller: Caller
) -> DeploymentStarted:
    require_model_admin(caller)
    state, _ = registry.tier(tier)
    found = _require_version(registry, tier, version)
    if not found.staged:
        status = found.weights.status.value if found.weights else "not imported"
        raise Conflict(
            f"Version {version} of the {tier} tier has no staged weights ({status}): "
            f"import it first with POST /models/{tier}/versions/{version}/import.",
            {"tier": tier.value, "version": version, "weights": status},
        )
    return _start(registry, starter, state, found, caller, "deploy")


def roll_back(registry: ModelRegistry, starter: FlowStarter, tier: Tier, caller: Caller) -> DeploymentStarted:
    """Deploys the version that served before the live one; the live one becomes `rolled_back`."""
    require_model_admin(caller)
    state, _ = registry.tier(tier)
    if state.previous_version is None:
        raise Conflict(
            f"The {tier} tier has no earlier version to roll back to: deploy a registered version instead.",
            {"tier": tier.value, "live_version": state.live_version},
        )
    target = _require_version(registry, tier, state.previous_version)
    return _start(registry, starter, state, target, caller, "rollback")


def _start(
    registry: ModelRegistry,
    starter: FlowStarter,
    state: TierState,
    version: ModelVersion,
    caller: Caller,
    kind: str,
) -> DeploymentStarted:
    deployment = Deployment(
        tier=version.tier,
        version=version.version,
        kind="rollback" if kind == "rollback" else "deploy",
        from_version=state.live_version,
        started_by=caller.subject,
        execution_name=_execution_name(version.tier, version.version),
    )
    registry.begin(deployment)
    try:
        started = starter.start(
            MODEL_DEPLOY,
            deployment.execution_name,
            DeployState(deployment=deployment).model_dump(mode="json"),
        )
    except Exception:
        registry.cancel(deployment, version.status)
        raise
    return DeploymentStarted(deployment=deployment, execution_arn=started.execution_arn)


def _execution_name(tier: Tier, version: str) -> str:
    """Unique per attempt, at most 80 characters of letters, digits, hyphens and underscores."""
    return f"{tier}-{re.sub(r'[^A-Za-z0-9_-]', '-', version)}-{uuid.uuid4().hex[:12]}"


def _require_version(registry: ModelRegistry, tier: Tier, version: str) -> ModelVersion:
    found = registry.get_version(tier, version)
    if found is None:
        raise NotFound(
            f"The {tier} tier has no version {version!r}: GET /models/{tier} lists them.",
            {"tier": tier.value, "version": version},
        )
    return found


def _view(state: TierState, versions: list[ModelVersion]) -> TierView:
    return TierView(
        tier=state.tier,
        live_version=state.live_version,
        previous_version=state.previous_version,
        history=state.history,
        deploying=state.deploying,
        versions=versions,
    )
