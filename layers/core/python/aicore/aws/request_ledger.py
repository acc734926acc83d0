"""Claims of `npc.say` request ids in the connections table: `pk = REQUEST#<world>#<player>`,
`sk = <request_id>`, expiring with the window (TTL `expires_at`)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from aicore import aws
from aicore.npc.requests import RequestRecord

_DESERIALIZER = TypeDeserializer()


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
            return _record(exc.response.get("Item") or {})
        return None

    def complete(self, owner: str, request_id: str, record: RequestRecord, expires_at: int) -> None:
        self._table.put_item(Item=self._item(owner, request_id, record, expires_at))

    def release(self, owner: str, request_id: str) -> None:
        self._table.delete_item(Key=_key(owner, request_id))

    @staticmethod
    def _item(owner: str, request_id: str, record: RequestRecord, expires_at: int) -> dict[str, Any]:
        fields = record.model_dump(exclude_none=True)
        return {**_key(owner, request_id), **fields, "expires_at": expires_at}


def _key(owner: str, request_id: str) -> dict[str, str]:
    return {"pk": f"REQUEST#{owner}", "sk": request_id}


def _record(item: dict[str, Any]) -> RequestRecord:
    """The claim as a failed condition returns it: in the client's low-level shape ({"S": ...})."""
    plain = {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}
    fields = ("state", "fingerprint", "in_flight_until", "reply")
    return RequestRecord.model_validate({k: plain[k] for k in fields if k in plain})
