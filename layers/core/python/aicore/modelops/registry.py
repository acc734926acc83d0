"""The model registry in DynamoDB: `pk = TIER#<tier>`, `sk = TIER` (what serves) | `VERSION#<version>`.

The `TIER` item holds the versions the tier has served, in order (the last one serves now), and
the deployment in flight, which doubles as a lock: one deployment per tier at a time. Every
change of state is one conditional transaction, so two studio users cannot both deploy, and a
step that runs twice (Step Functions retries) cannot finish a deployment twice: the version
records which execution finished it and how (`ModelVersion.finished`), so the step run again is
answered as the first run was, and any other deployment that no longer holds the tier is refused.
"""

from __future__ import annotations

from typing import Protocol

from aicore.llm.tiers import Tier
from aicore.modelops.models import (
    Deployment,
    ModelVersion,
    SmokeResult,
    StagedWeights,
    TierState,
    VersionStatus,
)

TIER_SK = "TIER"
HISTORY_LIMIT = 20  # versions a tier remembers having served: how far back rollbacks can go


def tier_pk(tier: str) -> str:
    return f"TIER#{tier}"


def version_sk(version: str) -> str:
    return f"VERSION#{version}"


class ModelRegistry(Protocol):
    def create_version(self, version: ModelVersion) -> ModelVersion | None:
        """Stores a new version; if one of that id exists, returns it (nothing is written)."""
        ...

    def get_version(self, tier: Tier, version: str) -> ModelVersion | None: ...

    def tier(self, tier: Tier) -> tuple[TierState, list[ModelVersion]]:
        """What serves the tier and every version registered for it, newest first."""
        ...

    def begin(self, deployment: Deployment) -> None:
        """Takes the tier's deployment lock and marks the version deploying; `Conflict` if either fails."""
        ...

    def cancel(self, deployment: Deployment, status: VersionStatus) -> None:
        """Undoes `begin` (the state machine could not start): the version gets `status` back."""
        ...

    def record_model(self, deployment: Deployment, sagemaker_model: str) -> None: ...

    def begin_import(self, tier: Tier, version: str, execution_name: str) -> None:
        """Marks the version's weights importing; `Conflict` if an import of it is running already."""
        ...

    def record_weights(self, tier: Tier, version: str, weights: StagedWeights) -> None:
        """What the import flow staged for the version (or why it could not).

        Recorded again by the same execution (a retried step), it is the same record; an execution
        whose import another one replaced since (`begin_import` with another name) gets `Conflict`.
        """
        ...

    def succeed(self, deployment: Deployment, smoke: SmokeResult | None) -> TierState:
        """The version serves: it joins (deploy) or ends (rollback) the tier's history; lock released.

        Run again for a deployment it finished so (a retried step), it changes nothing and answers
        the tier as it is; `Conflict` for a deployment that does not hold the tier otherwise.
        """
        ...

    def fail(self, deployment: Deployment, failure: str, smoke: SmokeResult | None) -> TierState:
        """The version does not serve (it is `failed`); what served before still does; lock released.

        Run again for a deployment it failed (a retried step), it changes nothing and answers the
        tier as it is; `Conflict` for a deployment that does not hold the tier otherwise.
        """
        ...
