"""World subscriptions on the connections table: attributes of the connection's own item, found
by world through the `world-subscribers` index; fan-out markers beside them (they expire)."""

from __future__ import annotations

import time
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from aicore import aws
from aicore.topology import CONNECTIONS, WORLD_SUBSCRIBERS_INDEX
from aicore.world.pushes import Subscription

CONNECTION_SK = "CONNECTION"
EXPIRES_AT = str(CONNECTIONS.ttl_attribute)
BATCH_GET_LIMIT = 100  # keys per BatchGetItem
BATCH_GET_ATTEMPTS = 3  # a connection whose item is still unread after these speaks JSON


class DynamoSubscriptions:
    def __init__(self, table_name: str) -> None:
        self._table = aws.table(table_name)

    def subscribe(self, connection_id: str, world_id: str, regions: tuple[str, ...] | None) -> bool:
        values: dict[str, Any] = {":w": world_id, ":t": int(time.time())}
        update = "SET subscribed_world = :w, subscribed_at = :t"
        if regions:
            update += ", subscribed_regions = :r"
            values[":r"] = list(regions)
        else:
            update += " REMOVE subscribed_regions"
        try:
            self._table.update_item(
                Key={"pk": connection_id, "sk": CONNECTION_SK},
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk)",  # never a subscription without its connection
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def unsubscribe(self, connection_id: str) -> None:
        try:
            self._table.update_item(
                Key={"pk": connection_id, "sk": CONNECTION_SK},
                UpdateExpression="REMOVE subscribed_world, subscribed_regions, subscribed_at",
                ConditionExpression="attribute_exists(pk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def subscribers(self, world_id: str) -> list[Subscription]:
        items = list(
            aws.query_items(
                self._table,
                IndexName=WORLD_SUBSCRIBERS_INDEX.name,
                KeyConditionExpression=Key(WORLD_SUBSCRIBERS_INDEX.partition_key).eq(world_id),
            )
        )
        encodings = self._encodings([str(item["pk"]) for item in items])
        return [
            Subscription(
                connection_id=str(item["pk"]),
                world_id=world_id,
                regions=tuple(str(r) for r in item["subscribed_regions"])
                if "subscribed_regions" in item
                else None,
                expires_at=int(str(item.get("token_expires_at", 0))),
                encoding=encodings.get(str(item["pk"]), "json"),
            )
            for item in items
        ]

    def _encodings(self, connection_ids: list[str]) -> dict[str, str]:
        """The frame encoding of each connection, read from its item, 100 a read (the index does
        not project it: a global index's projection cannot change in place)."""
        client = aws.resource_client(self._table)
        found: dict[str, str] = {}
        for start in range(0, len(connection_ids), BATCH_GET_LIMIT):
            keys = [{"pk": c, "sk": CONNECTION_SK} for c in connection_ids[start : start + BATCH_GET_LIMIT]]
            request: dict[str, Any] = {
                self._table.name: {
                    "Keys": keys,
                    "ProjectionExpression": "pk, #encoding",
                    "ExpressionAttributeNames": {"#encoding": "encoding"},
                }
            }
            for _ in range(BATCH_GET_ATTEMPTS):
                answer = client.batch_get_item(RequestItems=request)
                for item in answer["Responses"].get(self._table.name, []):
                    found[str(item["pk"])] = str(item.get("encoding", "json"))
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
        return found

    def claim(self, event_id: str, expires_at: int) -> bool:
        try:
            self._table.put_item(
                Item={"pk": f"FANOUT#{event_id}", "sk": "FANOUT", EXPIRES_AT: expires_at},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def forget(self, connection_id: str) -> None:
        self._table.delete_item(Key={"pk": connection_id, "sk": CONNECTION_SK})
