"""A world's pushed content and live state in the world table (the layout is in
`aicore.world.keys`): one partition per world, so one Query reads its whole state."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from aicore import aws
from aicore.world.clock import ClockState
from aicore.world.definition import WorldDefinition
from aicore.world.keys import (
    CLOCK_SK,
    CONTENT_SK,
    DEFINITION_SK,
    VERSION_SK,
    WORLDS_PK,
    lore_sk,
    npc_sk,
    registry_sk,
)
from aicore.world.push import ContentManifest
from aicore.world.store import world_pk


class DynamoWorldState:
    def __init__(self, table_name: str) -> None:
        self._name = table_name
        self._table = aws.table(table_name)

    # --- content -------------------------------------------------------------------------------

    def manifest(self, world_id: str) -> ContentManifest | None:
        item = self._table.get_item(
            Key={"pk": world_pk(world_id), "sk": CONTENT_SK}, ConsistentRead=True
        ).get("Item")
        return ContentManifest.model_validate_json(str(item["body"])) if item else None

    def put_definition(self, definition: WorldDefinition) -> None:
        self._table.put_item(
            Item={
                "pk": world_pk(definition.world_id),
                "sk": DEFINITION_SK,
                "body": definition.model_dump_json(),
            }
        )

    def definition(self, world_id: str) -> WorldDefinition | None:
        item = self._table.get_item(Key={"pk": world_pk(world_id), "sk": DEFINITION_SK}).get("Item")
        return WorldDefinition.model_validate_json(str(item["body"])) if item else None

    def delete_npc(self, world_id: str, npc_id: str) -> None:
        self._table.delete_item(Key={"pk": world_pk(world_id), "sk": npc_sk(npc_id)})

    def delete_lore(self, world_id: str, fact_id: str) -> None:
        self._table.delete_item(Key={"pk": world_pk(world_id), "sk": lore_sk(fact_id)})

    def record_push(self, manifest: ContentManifest, expected_version: int) -> bool:
        condition, values = _at_version(expected_version)
        try:
            aws.resource_client(self._table).transact_write_items(
                TransactItems=[
                    _put(
                        self._name,
                        {
                            "pk": world_pk(manifest.world_id),
                            "sk": CONTENT_SK,
                            "version": manifest.version,
                            "body": manifest.model_dump_json(),
                        },
                        condition,
                        values,
                    ),
                    _put(
                        self._name,
                        {
                            "pk": WORLDS_PK,
                            "sk": registry_sk(manifest.world_id),
                            "world_id": manifest.world_id,
                        },
                    ),
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                return False
            raise
        return True

    # --- clock ---------------------------------------------------------------------------------

    def clock(self, world_id: str) -> ClockState | None:
        item = self._table.get_item(Key={"pk": world_pk(world_id), "sk": CLOCK_SK}, ConsistentRead=True).get(
            "Item"
        )
        return ClockState.model_validate_json(str(item["body"])) if item else None

    def put_clock(self, world_id: str, clock: ClockState, expected_version: int) -> bool:
        condition, values = _at_version(expected_version)
        item = {
            "pk": world_pk(world_id),
            "sk": CLOCK_SK,
            "version": clock.version,
            "body": clock.model_dump_json(),
        }
        try:
            aws.resource_client(self._table).transact_write_items(
                TransactItems=[_put(self._name, item, condition, values), self._next_state_version(world_id)]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                return False
            raise
        return True

    def _next_state_version(self, world_id: str) -> dict[str, Any]:
        """The world's state version, +1, in the same transaction as the change it counts."""
        return {
            "Update": {
                "TableName": self._name,
                "Key": {"pk": world_pk(world_id), "sk": VERSION_SK},
                "UpdateExpression": "ADD version :one",
                "ExpressionAttributeValues": {":one": 1},
            }
        }

    def worlds(self) -> list[str]:
        """Every world pushed to this environment."""
        items = aws.query_items(self._table, KeyConditionExpression=Key("pk").eq(WORLDS_PK))
        return [str(i["world_id"]) for i in items]


def _put(
    table: str, item: dict[str, Any], condition: str | None = None, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": table, "Item": item}
    if condition:
        put["ConditionExpression"] = condition
    if values:
        put["ExpressionAttributeValues"] = values
    return {"Put": put}


def _at_version(version: int) -> tuple[str, dict[str, Any]]:
    if version == 0:
        return "attribute_not_exists(pk)", {}
    return "version = :v", {":v": version}
