"""Sessions in DynamoDB: one partition per session (head + messages), pointers for lookups.

Items of a session share `pk = <session_id>`: the head has `sk = "SESSION"`, messages have
`sk = "MSG#<seq, 12 digits>"`. "SESSION" sorts after every "MSG#…", so one descending query
returns the head and then the newest messages. Appends are transactions conditional on the
head's `message_count`: writers never overwrite each other, and every message gets one place in
a single total order.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any, Protocol

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from aicore import aws
from aicore.errors import Conflict, NotFound
from aicore.events import utc_now
from aicore.sessions.models import Message, NewMessage, SessionHead

HEAD_SK = "SESSION"
MAX_APPEND_ATTEMPTS = 200  # generous: 50 writers on one session still all get in
MAX_BACKOFF_S = 0.05


def message_sk(seq: int) -> str:
    return f"MSG#{seq:012d}"


def pair_key(world_id: str, player_id: str, npc_id: str) -> str:
    return f"PAIR#{world_id}#{player_id}#{npc_id}"


class SessionStore(Protocol):
    def create(self, head: SessionHead, pair: str | None = None) -> SessionHead: ...
    def find_pair(self, pair: str) -> str | None: ...
    def head_and_recent(self, session_id: str, limit: int) -> tuple[SessionHead, list[Message]]: ...
    def append(self, head: SessionHead, new: list[NewMessage]) -> tuple[SessionHead, list[Message]]: ...


def _not_found(session_id: str) -> NotFound:
    return NotFound(f"Session '{session_id}' does not exist.", {"session_id": session_id})


class DynamoSessionStore:
    def __init__(self, table_name: str) -> None:
        self._name = table_name
        self._table = aws.table(table_name)
        self._client = self._table.meta.client

    def create(self, head: SessionHead, pair: str | None = None) -> SessionHead:
        """Create a session; with `pair`, at most one session ever exists for that pair."""
        put_head = {
            "Put": {
                "TableName": self._name,
                "Item": self._head_item(head),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        items = [put_head]
        if pair is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self._name,
                        "Item": {"pk": pair, "sk": "POINTER", "session_id": head.session_id},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise Conflict("The session already exists.", {"session_id": head.session_id}) from exc
            raise
        return head

    def find_pair(self, pair: str) -> str | None:
        item = self._table.get_item(Key={"pk": pair, "sk": "POINTER"}).get("Item")
        return None if item is None else str(item["session_id"])

    def head_and_recent(self, session_id: str, limit: int) -> tuple[SessionHead, list[Message]]:
        """One query: the head and the `limit` newest messages (oldest first)."""
        response = self._table.query(
            KeyConditionExpression=Key("pk").eq(session_id),
            ScanIndexForward=False,
            Limit=limit + 1,
        )
        items = response["Items"]
        if not items or items[0]["sk"] != HEAD_SK:
            raise _not_found(session_id)
        head = self._head_from(items[0])
        return head, [self._message_from(i) for i in reversed(items[1:])]

    def append(self, head: SessionHead, new: list[NewMessage]) -> tuple[SessionHead, list[Message]]:
        """Append in order after whatever is there; retries when another writer got in first."""
        for attempt in range(MAX_APPEND_ATTEMPTS):
            messages = [
                Message(
                    seq=head.message_count + i + 1,
                    speaker=m.speaker,
                    text=m.text,
                    correlation_id=m.correlation_id,
                )
                for i, m in enumerate(new)
            ]
            try:
                self._client.transact_write_items(TransactItems=self._append_items(head, messages))
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                time.sleep(random.uniform(0, min(MAX_BACKOFF_S, 0.002 * 2**attempt)))
                head = self._get_head(head.session_id)
                continue
            count = head.message_count + len(messages)
            return head.model_copy(update={"message_count": count, "updated_at": utc_now()}), messages
        raise Conflict("The session is too busy right now: try again.", {"session_id": head.session_id})

    def _append_items(self, head: SessionHead, messages: list[Message]) -> list[dict[str, Any]]:
        update = {
            "Update": {
                "TableName": self._name,
                "Key": {"pk": head.session_id, "sk": HEAD_SK},
                "UpdateExpression": "SET message_count = :next, updated_at = :now",
                "ConditionExpression": "message_count = :current",
                "ExpressionAttributeValues": {
                    ":next": head.message_count + len(messages),
                    ":current": head.message_count,
                    ":now": utc_now(),
                },
            }
        }
        puts = [
            {
                "Put": {
                    "TableName": self._name,
                    "Item": self._message_item(head.session_id, m),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for m in messages
        ]
        return [update, *puts]

    def _get_head(self, session_id: str) -> SessionHead:
        item = self._table.get_item(Key={"pk": session_id, "sk": HEAD_SK}, ConsistentRead=True).get("Item")
        if item is None:
            raise _not_found(session_id)
        return self._head_from(item)

    @staticmethod
    def _head_item(head: SessionHead) -> dict[str, Any]:
        # Metadata is free-form JSON: stored as text so floats and nesting survive DynamoDB.
        fields = head.model_dump(mode="json", exclude={"metadata"})
        return {"pk": head.session_id, "sk": HEAD_SK, **fields, "metadata": json.dumps(head.metadata)}

    @staticmethod
    def _message_item(session_id: str, message: Message) -> dict[str, Any]:
        return {"pk": session_id, "sk": message_sk(message.seq), **message.model_dump(mode="json")}

    @staticmethod
    def _head_from(item: dict[str, Any]) -> SessionHead:
        return SessionHead.model_validate({**item, "metadata": json.loads(item.get("metadata") or "{}")})

    @staticmethod
    def _message_from(item: dict[str, Any]) -> Message:
        return Message.model_validate(item)
