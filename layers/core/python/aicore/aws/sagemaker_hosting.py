"""The SageMaker control plane for model deployments: models and inference components."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_sagemaker.type_defs import InferenceComponentSpecificationTypeDef

from aicore import aws
from aicore.modelops.hosting import CARRIED_OVER, ComponentView, ModelView


class SageMakerHosting:
    def __init__(self, client: Any | None = None) -> None:
        self._client = client or aws.sagemaker_client()

    def describe_component(self, name: str) -> ComponentView:
        found = self._client.describe_inference_component(InferenceComponentName=name)
        specification = dict(found.get("Specification") or {})
        return ComponentView(
            name=found["InferenceComponentName"],
            endpoint=found["EndpointName"],
            model_name=str(specification.get("ModelName", "")),
            status=found.get("InferenceComponentStatus", "Creating"),
            failure=found.get("FailureReason"),
            specification={k: specification[k] for k in CARRIED_OVER if k in specification},
        )

    def describe_model(self, name: str) -> ModelView | None:
        try:
            found = self._client.describe_model(ModelName=name)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        container = found.get("PrimaryContainer") or {}
        return ModelView(
            name=found["ModelName"],
            image=container.get("Image", ""),
            role_arn=found.get("ExecutionRoleArn"),
            environment=dict(container.get("Environment") or {}),
        )

    def create_model(self, name: str, image: str, environment: dict[str, str], role_arn: str | None) -> None:
        request: dict[str, Any] = {
            "ModelName": name,
            "PrimaryContainer": {"Image": image, "Mode": "SingleModel", "Environment": environment},
        }
        if role_arn:
            request["ExecutionRoleArn"] = role_arn
        try:
            self._client.create_model(**request)
        except ClientError as exc:
            if "already existing" not in exc.response.get("Error", {}).get("Message", ""):
                raise

    def update_component(self, component: ComponentView, model_name: str) -> None:
        specification = cast(
            "InferenceComponentSpecificationTypeDef", {"ModelName": model_name, **component.specification}
        )
        self._client.update_inference_component(
            InferenceComponentName=component.name, Specification=specification
        )


def _missing(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") == "ValidationException" and "Could not find" in error.get("Message", "")
