"""Settings documents and their audit trail in DynamoDB: `pk = SETTINGS#<scope>`, `sk = CURRENT`
(the document, its values as JSON) or `AUDIT#<version>` (one entry per accepted write)."""

from __future__ import annotations

import json
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from aicore import aws
from aicore.platform.settings import AuditEntry, StoredSettings

CURRENT = "CURRENT"
AUDIT = "AUDIT#"


def settings_pk(scope: str) -> str:
    return f"SETTINGS#{scope}"


class DynamoSettingsStore:
    def __init__(self, table_name: str) -> None:
        self._name = table_name
        self._table = aws.table(table_name)

    def read(self, scopes: list[str]) -> dict[str, StoredSettings]:
        keys = [{"pk": settings_pk(scope), "sk": CURRENT} for scope in dict.fromkeys(scopes)]
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {self._name: {"Keys": keys}}
        while request:
            answer = aws.resource_client(self._table).batch_get_item(RequestItems=request)
            found += answer["Responses"].get(self._name, [])
            request = answer.get("UnprocessedKeys") or {}
        return {(doc := _document(item)).scope: doc for item in found}

    def write(self, document: StoredSettings, expected_version: int, entry: AuditEntry) -> int | None:
        pk = settings_pk(document.scope)
        item = {
            "pk": pk,
            "sk": CURRENT,
            "scope": document.scope,
            "version": document.version,
            "values": json.dumps(document.values, separators=(",", ":")),
            "updated_at": document.updated_at,
            "updated_by": document.updated_by,
        }
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(pk)"}
            if expected_version == 0
            else {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": expected_version},
            }
        )
        audit = {"pk": pk, "sk": f"{AUDIT}{entry.version:010d}", "entry": entry.model_dump_json()}
        try:
            aws.resource_client(self._table).transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._name,
                            "Item": item,
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                            **condition,
                        }
                    },
                    {"Put": {"TableName": self._name, "Item": audit}},
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return _number((reasons[0].get("Item") or {}).get("version"))
            raise
        return None

    def audit(self, scope: str, limit: int) -> list[AuditEntry]:
        answer = self._table.query(
            KeyConditionExpression=Key("pk").eq(settings_pk(scope)) & Key("sk").begins_with(AUDIT),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [AuditEntry.model_validate_json(str(item["entry"])) for item in answer.get("Items", [])]


def _document(item: dict[str, Any]) -> StoredSettings:
    return StoredSettings(
        scope=str(item["scope"]),
        version=int(item["version"]),
        values=json.loads(str(item["values"])),
        updated_at=item.get("updated_at"),
        updated_by=item.get("updated_by"),
    )


def _number(value: Any) -> int:
    """A number as a cancellation reason carries it: DynamoDB's `{"N": "3"}` form, or plain."""
    if value is None:
        return 0
    if isinstance(value, dict):
        return int(value["N"])
    return int(value)
