"""Which model serves each tier: one SSM parameter per tier (`ModelTier.serving_parameter`)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from aicore import aws
from aicore.topology import ModelTier


class SsmServingRecord:
    """`ServingRecord` over SSM Parameter Store (`ssm:GetParameter`, `PutParameter`, `DeleteParameter`)."""

    def __init__(self, env: str, client: Any | None = None) -> None:
        self._env = env
        self._client = client or aws.ssm_client()

    def _name(self, tier: str) -> str:
        return ModelTier(tier).serving_parameter(self._env)

    def get(self, tier: str) -> str | None:
        try:
            return str(self._client.get_parameter(Name=self._name(tier))["Parameter"]["Value"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ParameterNotFound":
                return None
            raise

    def put(self, tier: str, model_name: str, *, overwrite: bool) -> None:
        try:
            self._client.put_parameter(
                Name=self._name(tier),
                Value=model_name,
                Type="String",
                Overwrite=overwrite,
                Description=f"The SageMaker model the {tier} tier serves (written by the model registry)",
            )
        except ClientError as exc:
            if overwrite or exc.response["Error"]["Code"] != "ParameterAlreadyExists":
                raise

    def delete(self, tier: str) -> None:
        try:
            self._client.delete_parameter(Name=self._name(tier))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ParameterNotFound":
                raise
