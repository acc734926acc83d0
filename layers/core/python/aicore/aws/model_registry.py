"""The model registry in DynamoDB (the layout is in `aicore.modelops.registry`)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Literal

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from aicore import aws
from aicore.clock import utc_now
from aicore.errors import Conflict
from aicore.llm.tiers import Tier
from aicore.modelops.models import (
    DEPLOYABLE,
    Deployment,
    FinishedDeployment,
    ModelVersion,
    SmokeResult,
    StagedWeights,
    TierState,
    VersionStatus,
    WeightsStatus,
)
from aicore.modelops.registry import HISTORY_LIMIT, TIER_SK, tier_pk, version_sk


class DynamoModelRegistry:
    def __init__(self, table_name: str) -> None:
        self._name = table_name
        self._table = aws.table(table_name)
        self._client = aws.resource_client(self._table)

    def create_version(self, version: ModelVersion) -> ModelVersion | None:
        item = {"pk": tier_pk(version.tier), "sk": version_sk(version.version), **_item(version)}
        try:
            self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return self.get_version(version.tier, version.version)
        return None

    def get_version(self, tier: Tier, version: str) -> ModelVersion | None:
        found = self._table.get_item(Key={"pk": tier_pk(tier), "sk": version_sk(version)}).get("Item")
        return ModelVersion.model_validate(found) if found else None

    def tier(self, tier: Tier) -> tuple[TierState, list[ModelVersion]]:
        items = list(aws.query_items(self._table, KeyConditionExpression=Key("pk").eq(tier_pk(tier))))
        state = next((_state(i) for i in items if i["sk"] == TIER_SK), TierState(tier=tier))
        versions = [ModelVersion.model_validate(i) for i in items if i["sk"].startswith("VERSION#")]
        return state, sorted(versions, key=lambda v: v.created_at, reverse=True)

    def begin(self, deployment: Deployment) -> None:
        now = utc_now()
        allowed = {f":ok{i}": status.value for i, status in enumerate(sorted(DEPLOYABLE))}
        lock = {
            "Update": {
                "TableName": self._name,
                "Key": {"pk": tier_pk(deployment.tier), "sk": TIER_SK},
                "UpdateExpression": "SET deploying = :d, lock_name = :n, updated_at = :now",
                "ConditionExpression": "attribute_not_exists(lock_name)",
                "ExpressionAttributeValues": {
                    ":d": _doc(deployment),
                    ":n": deployment.execution_name,
                    ":now": now,
                },
            }
        }
        mark = {
            "Update": {
                "TableName": self._name,
                "Key": {"pk": tier_pk(deployment.tier), "sk": version_sk(deployment.version)},
                "UpdateExpression": "SET #status = :deploying, updated_at = :now REMOVE failure",
                "ConditionExpression": f"#status IN ({', '.join(allowed)})",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {
                    ":deploying": VersionStatus.DEPLOYING.value,
                    ":now": now,
                    **allowed,
                },
            }
        }
        try:
            self._client.transact_write_items(TransactItems=[lock, mark])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise Conflict(
                    f"A deployment of the {deployment.tier} tier is already running: wait for it to finish.",
                    {"tier": deployment.tier.value},
                ) from None
            current = self.get_version(deployment.tier, deployment.version)
            status = current.status.value if current else "missing"
            raise Conflict(
                f"Version {deployment.version} is {status}: only a version that is not serving or "
                "deploying can be deployed.",
                {"tier": deployment.tier.value, "version": deployment.version, "status": status},
            ) from None

    def cancel(self, deployment: Deployment, status: VersionStatus) -> None:
        self._client.transact_write_items(
            TransactItems=[
                self._release(deployment, "SET updated_at = :now", {":now": utc_now()}),
                self._set_version(deployment.tier, deployment.version, {"status": status.value}),
            ]
        )

    def record_model(self, deployment: Deployment, sagemaker_model: str) -> None:
        self._table.update_item(
            Key={"pk": tier_pk(deployment.tier), "sk": version_sk(deployment.version)},
            UpdateExpression="SET sagemaker_model = :m, updated_at = :now",
            ExpressionAttributeValues={":m": sagemaker_model, ":now": utc_now()},
        )

    def begin_import(self, tier: Tier, version: str, execution_name: str) -> None:
        weights = StagedWeights(status=WeightsStatus.IMPORTING, execution_name=execution_name)
        try:
            self._table.update_item(
                Key={"pk": tier_pk(tier), "sk": version_sk(version)},
                UpdateExpression="SET weights = :w, updated_at = :now",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(weights) OR weights.#status <> :importing)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":w": _doc(weights),
                    ":importing": WeightsStatus.IMPORTING.value,
                    ":now": utc_now(),
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            raise Conflict(
                f"An import of version {version} of the {tier} tier is running already: wait for it.",
                {"tier": tier.value, "version": version},
            ) from None

    def record_weights(self, tier: Tier, version: str, weights: StagedWeights) -> None:
        condition = "attribute_exists(pk)"
        values: dict[str, Any] = {":w": _doc(weights), ":now": utc_now()}
        if weights.execution_name is not None:
            condition += " AND (attribute_not_exists(weights.execution_name) OR weights.execution_name = :e)"
            values[":e"] = weights.execution_name
        try:
            self._table.update_item(
                Key={"pk": tier_pk(tier), "sk": version_sk(version)},
                UpdateExpression="SET weights = :w, updated_at = :now",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            raise _replaced_import(tier, version, weights) from None

    def succeed(self, deployment: Deployment, smoke: SmokeResult | None) -> TierState:
        history = self._history(deployment.tier)
        if deployment.kind == "rollback":
            while history and history[-1] != deployment.version:
                history.pop()
        if not history or history[-1] != deployment.version:
            history.append(deployment.version)
        history = history[-HISTORY_LIMIT:]
        now = utc_now()
        items = [
            self._release(deployment, "SET history = :h, updated_at = :now", {":h": history, ":now": now}),
            self._set_version(
                deployment.tier,
                deployment.version,
                {
                    "status": VersionStatus.IN_SERVICE.value,
                    "deployed_at": now,
                    "smoke": _doc(smoke),
                    "finished": _finished(deployment, "in_service"),
                },
                remove="failure",
            ),
        ]
        if deployment.from_version and deployment.from_version != deployment.version:
            replaced = (
                VersionStatus.ROLLED_BACK if deployment.kind == "rollback" else VersionStatus.SUPERSEDED
            )
            items.append(
                self._set_version(deployment.tier, deployment.from_version, {"status": replaced.value})
            )
        self._finish(deployment, "in_service", items)
        return self.tier(deployment.tier)[0]

    def fail(self, deployment: Deployment, failure: str, smoke: SmokeResult | None) -> TierState:
        self._finish(
            deployment,
            "failed",
            [
                self._release(deployment, "SET updated_at = :now", {":now": utc_now()}),
                self._set_version(
                    deployment.tier,
                    deployment.version,
                    {
                        "status": VersionStatus.FAILED.value,
                        "failure": failure[:1000],
                        "smoke": _doc(smoke),
                        "finished": _finished(deployment, "failed"),
                    },
                ),
            ],
        )
        return self.tier(deployment.tier)[0]

    # --- helpers -----------------------------------------------------------------------------------

    def _history(self, tier: Tier) -> list[str]:
        found = self._table.get_item(Key={"pk": tier_pk(tier), "sk": TIER_SK}).get("Item") or {}
        history: list[Any] = found.get("history", [])  # type: ignore[assignment]
        return [str(v) for v in history]

    def _release(self, deployment: Deployment, expression: str, values: dict[str, Any]) -> dict[str, Any]:
        """An update of the tier item that also releases the lock, if this deployment holds it."""
        return {
            "Update": {
                "TableName": self._name,
                "Key": {"pk": tier_pk(deployment.tier), "sk": TIER_SK},
                "UpdateExpression": f"{expression} REMOVE deploying, lock_name",
                "ConditionExpression": "lock_name = :lock",
                "ExpressionAttributeValues": {**values, ":lock": deployment.execution_name},
            }
        }

    def _set_version(
        self, tier: Tier, version: str, fields: dict[str, Any], remove: str | None = None
    ) -> dict[str, Any]:
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": value for i, value in enumerate(fields.values())}
        sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        return {
            "Update": {
                "TableName": self._name,
                "Key": {"pk": tier_pk(tier), "sk": version_sk(version)},
                "UpdateExpression": f"SET {sets}, updated_at = :now"
                + (f" REMOVE {remove}" if remove else ""),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {**values, ":now": utc_now()},
            }
        }

    def _finish(
        self, deployment: Deployment, outcome: Literal["in_service", "failed"], items: list[dict[str, Any]]
    ) -> None:
        """Writes the end of a deployment; a deployment that ended so already (a step run again) is
        answered as done, one that does not hold the tier is refused."""
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            version = self.get_version(deployment.tier, deployment.version)
            done = FinishedDeployment(execution_name=deployment.execution_name, outcome=outcome)
            if version is not None and version.finished == done:
                return
            raise Conflict(
                f"Deployment {deployment.execution_name} does not hold the {deployment.tier} tier: "
                "it ended otherwise, or another deployment holds the tier.",
                {"tier": deployment.tier.value, "execution": deployment.execution_name},
            ) from None


def _doc(model: Any) -> Any:
    """A pydantic model as DynamoDB attribute values (numbers as Decimal, None as absent)."""
    if model is None:
        return None
    return json.loads(model.model_dump_json(exclude_none=True), parse_float=Decimal)


def _replaced_import(tier: Tier, version: str, weights: StagedWeights) -> Conflict:
    return Conflict(
        f"Import {weights.execution_name} of version {version} of the {tier} tier was replaced by a "
        "later import (or the version is gone): its outcome is not recorded.",
        {"tier": tier.value, "version": version, "execution": weights.execution_name},
    )


def _finished(deployment: Deployment, outcome: Literal["in_service", "failed"]) -> Any:
    return _doc(FinishedDeployment(execution_name=deployment.execution_name, outcome=outcome))


def _item(version: ModelVersion) -> dict[str, Any]:
    item: dict[str, Any] = _doc(version)
    return item


def _state(item: dict[str, Any]) -> TierState:
    history = [str(v) for v in item.get("history", [])]
    return TierState(
        tier=Tier(item["pk"].removeprefix("TIER#")),
        history=history,
        deploying=Deployment.model_validate(item["deploying"]) if item.get("deploying") else None,
        updated_at=item.get("updated_at"),
    )
