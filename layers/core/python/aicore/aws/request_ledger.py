"""Claims of `npc.say` request ids in the connections table: `pk = REQUEST#<world>#<player>`,
`sk = <request_id>`, expiring with the window (TTL `expires_at`). `npc.interrupt` marks a claim
(`interrupted`), and the streaming turn reads that mark."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from aicore import aws
from aicore.npc.claims import RequestRecord

_DESERIALIZER = TypeDeserializer()
_FIELDS = tuple(RequestRecord.model_fields)


class DynamoRequestLedger:
    def __init__(self, table_name: str) -> None:
        self._table = aws.table(table_name)

    def claim(
        self, owner: str, request_id: str, record: RequestRecord, now_s: int, expires_at: int
    ) -> RequestRecord | None:
        try:
            self._table.put_item(
                Item=self._item(owner, request_id, record, expires_at),
                # free, expired (TTL deletes lazily), or a run that died in flight
                ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now "
                "OR (#state = :in_progress AND in_flight_until <= :now)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":now": now_s, ":in_progress": "in_progress"},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return _record(_plain(exc.response.get("Item") or {}))
        return None

    def complete(self, owner: str, request_id: str, record: RequestRecord, expires_at: int) -> None:
        # An update, not a put: an interrupt mark that came after the turn's last look stays.
        fields = record.model_dump(exclude_none=True)
        if not record.interrupted:
            del fields["interrupted"]
        values = {**fields, "expires_at": expires_at}
        self._table.update_item(
            Key=_key(owner, request_id),
            UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in values),
            ExpressionAttributeNames={f"#{name}": name for name in values},
            ExpressionAttributeValues={f":{name}": value for name, value in values.items()},
        )

    def release(self, owner: str, request_id: str) -> None:
        self._table.delete_item(Key=_key(owner, request_id))

    def interrupt(self, owner: str, request_id: str, now_s: int) -> RequestRecord | None:
        try:
            answer = self._table.update_item(
                Key=_key(owner, request_id),
                UpdateExpression="SET interrupted = :yes",
                # a live claim whose run is in flight, or one marked already (the same answer twice)
                ConditionExpression="expires_at > :now AND (interrupted = :yes "
                "OR (#state = :in_progress AND in_flight_until > :now))",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":now": now_s, ":yes": True, ":in_progress": "in_progress"},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            held = _plain(exc.response.get("Item") or {})
            return _record(held) if held and held["expires_at"] > now_s else None  # none, or expired
        return _record(answer["Attributes"])

    def interrupt_requested(self, owner: str, request_id: str) -> bool:
        item = self._table.get_item(
            Key=_key(owner, request_id), ProjectionExpression="interrupted", ConsistentRead=True
        ).get("Item")
        return bool(item and item.get("interrupted"))

    @staticmethod
    def _item(owner: str, request_id: str, record: RequestRecord, expires_at: int) -> dict[str, Any]:
        fields = record.model_dump(exclude_none=True)
        return {**_key(owner, request_id), **fields, "expires_at": expires_at}


def _key(owner: str, request_id: str) -> dict[str, str]:
    return {"pk": f"REQUEST#{owner}", "sk": request_id}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """An item as a failed condition returns it (the client's low-level shape, {"S": ...}), as values."""
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}


def _record(item: dict[str, Any]) -> RequestRecord:
    return RequestRecord.model_validate({k: item[k] for k in _FIELDS if k in item})
