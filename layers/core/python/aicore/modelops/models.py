"""Model versions per tier, their lifecycle, and the state a deployment carries from step to step."""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from aicore.clock import utc_now
from aicore.llm.endpoints_config import EngineSettings, ModelSource, container_environment
from aicore.llm.tiers import Tier

VersionId = Annotated[
    str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
]
# A private ECR image, by tag or digest; None: the image the tier serves now.
ImageUri = Annotated[
    str,
    Field(
        max_length=512,
        pattern=r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$",
    ),
]


class VersionStatus(StrEnum):
    REGISTERED = "registered"  # known, never deployed
    DEPLOYING = "deploying"  # a deployment of it is running
    IN_SERVICE = "in_service"  # serving its tier now
    SUPERSEDED = "superseded"  # served, until a later version replaced it
    ROLLED_BACK = "rolled_back"  # served, until a rollback put the version before it back
    FAILED = "failed"  # a deployment of it failed; the tier kept serving what it served before


DEPLOYABLE = frozenset(
    {VersionStatus.REGISTERED, VersionStatus.SUPERSEDED, VersionStatus.ROLLED_BACK, VersionStatus.FAILED}
)


class WeightsStatus(StrEnum):
    IMPORTING = "importing"  # the import flow is copying the pinned revision into the models bucket
    STAGED = "staged"  # every file is in the models bucket, sizes and hashes checked
    FAILED = "failed"  # the import failed; `failure` says why (importing again is safe)


class StagedWeights(BaseModel):
    """Where a version's weights are in the environment's models bucket, and whether they are all there."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: WeightsStatus
    s3_uri: str | None = None  # s3://<models bucket>/hf/<model>/<revision>/ once staged
    files: int = 0
    bytes: int = 0
    execution_name: str | None = None
    failure: str | None = None
    updated_at: str = Field(default_factory=utc_now)


class VersionSpec(BaseModel):
    """What an admin registers: which weights (a pinned revision), and how the container runs them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: VersionId
    description: str = Field(default="", max_length=500)
    model: ModelSource
    engine: EngineSettings
    image_uri: ImageUri | None = None


class SmokeResult(BaseModel):
    passed: bool
    first_token_ms: float | None = None
    tokens: int = 0
    text: str = ""
    error: str | None = None


class FinishedDeployment(BaseModel):
    """How the last deployment of a version that finished ended, and which execution ended it: a
    step that finishes it again (a retried task) is told apart from another deployment."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    execution_name: str
    outcome: Literal["in_service", "failed"]


class ModelVersion(VersionSpec):
    model_config = ConfigDict(extra="ignore", frozen=True)

    tier: Tier
    status: VersionStatus = VersionStatus.REGISTERED
    environment: dict[str, str] = Field(default_factory=dict)  # the serving container's
    created_by: str
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)
    sagemaker_model: str | None = None
    deployed_at: str | None = None
    failure: str | None = None
    smoke: SmokeResult | None = None
    weights: StagedWeights | None = None  # None: never imported
    finished: FinishedDeployment | None = None  # None: no deployment of it has finished

    @classmethod
    def register(cls, tier: Tier, spec: VersionSpec, by: str) -> ModelVersion:
        return cls(
            tier=tier,
            created_by=by,
            environment=container_environment(spec.engine),
            **spec.model_dump(),
        )

    @property
    def staged(self) -> bool:
        return self.weights is not None and self.weights.status == WeightsStatus.STAGED

    def spec(self) -> VersionSpec:
        return VersionSpec.model_validate(self.model_dump(include=set(VersionSpec.model_fields)))


class Deployment(BaseModel):
    """A deployment in flight: held on the tier (one at a time) and the state machine's input."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tier: Tier
    version: str
    kind: Literal["deploy", "rollback"] = "deploy"
    from_version: str | None = None  # the version live when it started
    started_by: str
    started_at: str = Field(default_factory=utc_now)
    execution_name: str


class TierState(BaseModel):
    """Which version serves a tier, which served before it, and the deployment in flight."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    tier: Tier
    history: list[str] = Field(default_factory=list)  # versions served, in order: the last one serves now
    deploying: Deployment | None = None
    updated_at: str | None = None

    @property
    def live_version(self) -> str | None:
        return self.history[-1] if self.history else None

    @property
    def previous_version(self) -> str | None:
        """What a rollback puts back."""
        return self.history[-2] if len(self.history) > 1 else None


class DeployState(BaseModel):
    """What the deployment state machine carries from step to step (its steps return it updated)."""

    model_config = ConfigDict(extra="forbid")

    deployment: Deployment
    component: str = ""
    endpoint: str = ""
    model_name: str = ""  # the SageMaker model of the version being deployed
    previous_model: str = ""  # what the component served before: rollback puts it back
    expected_model: str = ""  # what the wait loop waits for the component to serve
    # waiting: the component is busy with an update; the rollback waits for it, then runs again
    status: Literal["pending", "in_service", "in_progress", "waiting", "failed"] = "pending"
    polls: int = 0
    poll_seconds: int = 30
    max_polls: int = 60
    smoke: SmokeResult | None = None
    failure: str | None = None


def sagemaker_model_name(component: str, version: str) -> str:
    """A SageMaker model name for a version: `<component>-<version>-<digest>`, at most 63 characters.

    Always under the component's name (`aicore-<env>-<tier>-`), the prefix IAM grants model
    deployment; the version is shortened to fit, the digest of the whole version keeps it unique.
    """
    digest = hashlib.sha256(version.encode()).hexdigest()[:6]
    room = 63 - len(component) - len(digest) - 2
    slug = re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9-]+", "-", version))[: max(room, 0)].strip("-")
    return f"{component}-{slug}-{digest}" if slug else f"{component}-{digest}"
