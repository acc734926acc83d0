"""Utterances of `npc.listen` in the connections table: `pk = LISTEN#<world>#<player>#<request_id>`,
`sk = CHUNK#<seq>` (the chunk's PCM, binary) and `sk = ENDED` (the transcript), all expiring (TTL
`expires_at`). An utterance is at most 60 chunks of 16,000 bytes: one Query pages through it."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from aicore import aws

_CHUNK = "CHUNK#"
_ENDED = "ENDED"


class DynamoUtteranceStore:
    def __init__(self, table_name: str) -> None:
        self._table = aws.table(table_name)

    def add_chunk(self, owner: str, request_id: str, seq: int, pcm: bytes, expires_at: int) -> None:
        item = {
            "pk": _pk(owner, request_id),
            "sk": f"{_CHUNK}{seq:02d}",
            "audio": pcm,
            "expires_at": expires_at,
        }
        self._put_once(item)

    def utterance(self, owner: str, request_id: str) -> tuple[dict[int, bytes], str | None]:
        chunks: dict[int, bytes] = {}
        transcript: str | None = None
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(_pk(owner, request_id)),
            "ConsistentRead": True,
        }
        while True:
            page = self._table.query(**query)
            for item in page["Items"]:
                if item["sk"] == _ENDED:
                    transcript = str(item["transcript"])
                else:
                    chunks[int(str(item["sk"]).removeprefix(_CHUNK))] = bytes(item["audio"])  # type: ignore[arg-type]
            if "LastEvaluatedKey" not in page:
                return chunks, transcript
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def end(self, owner: str, request_id: str, transcript: str, expires_at: int) -> str | None:
        item = {
            "pk": _pk(owner, request_id),
            "sk": _ENDED,
            "transcript": transcript,
            "expires_at": expires_at,
        }
        held = self._put_once(item)
        return None if held is None else str(held["transcript"]["S"])

    def _put_once(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Put the item unless its key is taken; then the item that holds it (the client's low-level
        shape, as a failed condition returns it, in the same round trip)."""
        try:
            self._table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            held: dict[str, Any] = exc.response["Item"]
            return held
        return None


def _pk(owner: str, request_id: str) -> str:
    return f"LISTEN#{owner}#{request_id}"
