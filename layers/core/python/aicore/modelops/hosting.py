"""Model hosting on SageMaker: models and the inference component that serves each tier.

Each tier is an endpoint with one inference component (see `cdk/model_tier.py`). Deploying a
version creates a SageMaker model for it and points the component at that model
(`UpdateInferenceComponent`): the endpoint, its instances and its scaling stay as they are.
Locally, the local model server answers the same calls (`AWS_ENDPOINT_URL_SAGEMAKER`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# The parts of a component's specification that an update carries over unchanged.
CARRIED_OVER = ("ComputeResourceRequirements", "StartupParameters", "BaseInferenceComponentName")


@dataclass(frozen=True)
class ComponentView:
    name: str
    endpoint: str
    model_name: str
    status: str  # InService | Creating | Updating | Failed | Deleting
    failure: str | None = None
    specification: dict[str, Any] = field(default_factory=dict)  # without ModelName


@dataclass(frozen=True)
class ModelView:
    name: str
    image: str
    role_arn: str | None
    environment: dict[str, str]


class ModelHosting(Protocol):
    def describe_component(self, name: str) -> ComponentView: ...

    def describe_model(self, name: str) -> ModelView | None:
        """None if there is no such model."""
        ...

    def create_model(
        self, name: str, image: str, environment: dict[str, str], role_arn: str | None, *, model_data: str
    ) -> None:
        """Creates the model with network isolation, its weights the uncompressed S3 prefix
        `model_data`; one of that name existing already is fine (a step that runs twice)."""
        ...

    def update_component(self, component: ComponentView, model_name: str) -> None:
        """Starts serving `model_name` from the component; its other settings stay."""
        ...


class ServingRecord(Protocol):
    """Which SageMaker model serves each tier, as the registry last deployed it.

    The registry owns this record (the deployment flow writes it when a version goes in service);
    CloudFormation reads it, so a stack update keeps serving what the registry deployed.
    """

    def get(self, tier: str) -> str | None: ...

    def put(self, tier: str, model_name: str, *, overwrite: bool) -> None:
        """Records `model_name`; with `overwrite=False`, only if nothing is recorded yet."""
        ...

    def delete(self, tier: str) -> None: ...
