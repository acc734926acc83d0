"""The sessions service's `SessionStore` over DynamoDB: create, find, read, append, change the head.

Appends reserve their sequence numbers with one atomic `ADD message_count` on the head (it never
conflicts, so 50 writers on one session all get in at the first try: one total order, no retries),
then put their messages under those numbers, each put conditional on the slot being empty.
Metadata and participant changes are conditional on `version`. The table's layout is in
`aicore.aws.sessions.table`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from aicore import aws
from aicore.aws.sessions.table import (
    ACTIVE_DAY,
    CHUNK_PREFIX,
    HEAD_SK,
    MSG_PREFIX,
    SessionTable,
    cancelled,
    chunk_sk,
    day_of,
    failed_condition,
    head_from,
    live_head_item,
    message_from,
    message_item,
    message_sk,
    not_found,
)
from aicore.clock import utc_now
from aicore.errors import Conflict
from aicore.sessions.chunks import decode_messages, newest_before
from aicore.sessions.models import HeadChanges, Message, NewMessage, SessionHead, StorageTier
from aicore.sessions.store import AppendObserver, SessionNotLive

CHUNKS_PER_READ = 4


class DynamoSessionStore:
    def __init__(self, table: SessionTable | str, observer: AppendObserver | None = None) -> None:
        self._sessions = table if isinstance(table, SessionTable) else SessionTable(table)
        self._name = self._sessions.name
        self._table = self._sessions.table
        self._client = self._sessions.client
        self._observer = observer

    # --- create and find ---------------------------------------------------------------------------

    def create(self, head: SessionHead, pair: str | None = None) -> SessionHead:
        """Create a session; with `pair`, at most one session ever exists for that pair."""
        put_head = {
            "Put": {
                "TableName": self._name,
                "Item": live_head_item(head),
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
            if cancelled(exc):
                raise Conflict("The session already exists.", {"session_id": head.session_id}) from exc
            raise
        return head

    def find_pair(self, pair: str) -> str | None:
        item = self._table.get_item(Key={"pk": pair, "sk": "POINTER"}).get("Item")
        return None if item is None else str(item["session_id"])

    # --- read -------------------------------------------------------------------------------------

    def get_head(self, session_id: str) -> SessionHead:
        return self._sessions.get_head(session_id)

    def head_and_recent(self, session_id: str, limit: int) -> tuple[SessionHead, list[Message]]:
        """The head and the `limit` newest messages (oldest first): one query while they are hot."""
        response = self._table.query(
            KeyConditionExpression=Key("pk").eq(session_id) & Key("sk").between(MSG_PREFIX, HEAD_SK),
            ScanIndexForward=False,
            ConsistentRead=True,
            Limit=limit + 1,
        )
        items = response["Items"]
        if not items or items[0]["sk"] != HEAD_SK:
            raise not_found(session_id)
        head = head_from(items[0])
        hot = [message_from(i) for i in items[1:]]
        return head, self._fill_from_chunks(session_id, hot, head.message_count + 1, limit)

    def page(self, head: SessionHead, before: int | None, limit: int) -> list[Message]:
        """The `limit` newest messages with seq < `before` (None: the newest), across hot and warm."""
        upper = min(before or head.message_count + 1, head.message_count + 1)
        if upper <= 1 or limit <= 0:
            return []
        response = self._table.query(
            KeyConditionExpression=Key("pk").eq(head.session_id)
            & Key("sk").between(message_sk(0), message_sk(upper - 1)),
            ScanIndexForward=False,
            ConsistentRead=True,
            Limit=limit,
        )
        hot = [message_from(i) for i in response["Items"]]
        return self._fill_from_chunks(head.session_id, hot, upper, limit)

    def _fill_from_chunks(self, session_id: str, hot: list[Message], upper: int, limit: int) -> list[Message]:
        """Completes a short page of hot messages with the newest warm ones below them.

        Chunks are read whenever the hot page is short and older messages may exist, without
        trusting a head that may be older than a compaction that just committed.
        """
        page = newest_before([hot], upper, limit)
        lowest = page[0].seq if page else upper
        if len(page) >= limit or lowest <= 1:
            return page
        warm: list[Message] = []
        for chunk_messages in self._chunks_below(session_id, lowest):
            warm += chunk_messages
            if len([m for m in warm if m.seq < lowest]) >= limit - len(page):
                break
        return newest_before([hot, warm], upper, limit)

    def _chunks_below(self, session_id: str, upper: int) -> Iterator[list[Message]]:
        """Decoded chunks that start below `upper`, newest first."""
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(session_id)
            & Key("sk").between(CHUNK_PREFIX, chunk_sk(upper - 1)),
            "ScanIndexForward": False,
            "ConsistentRead": True,
            "Limit": CHUNKS_PER_READ,
        }
        for item in aws.query_items(self._table, **query):
            yield decode_messages(bytes(item["data"]))

    # --- write ------------------------------------------------------------------------------------

    def append(self, head: SessionHead, new: list[NewMessage]) -> tuple[SessionHead, list[Message]]:
        """Reserve `len(new)` sequence numbers atomically, then store the messages under them.

        Two calls per append (one reservation, one put or transaction of puts). A writer that dies
        between the two leaves an unused number: the order of what was stored is still total.
        """
        if not new:
            return head, []
        now = utc_now()
        try:
            reserved = self._table.update_item(
                Key={"pk": head.session_id, "sk": HEAD_SK},
                UpdateExpression="ADD message_count :n SET updated_at = :now, #active_day = :day",
                ConditionExpression="attribute_exists(pk) AND #tier IN (:hot, :warm)",
                ExpressionAttributeNames={"#tier": "tier", "#active_day": ACTIVE_DAY},
                ExpressionAttributeValues={
                    ":n": len(new),
                    ":now": now,
                    ":day": day_of(now),
                    ":hot": StorageTier.HOT.value,
                    ":warm": StorageTier.WARM.value,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if failed_condition(exc):
                raise SessionNotLive(self._sessions.get_head(head.session_id)) from exc
            raise
        updated = head_from(reserved["Attributes"])
        first = updated.message_count - len(new) + 1
        messages = [
            Message(
                seq=first + i, speaker=m.speaker, text=m.text, created_at=now, correlation_id=m.correlation_id
            )
            for i, m in enumerate(new)
        ]
        self._put_messages(head.session_id, messages)
        if self._observer is not None:
            self._observer.appended(updated, messages)
        return updated, messages

    def _put_messages(self, session_id: str, messages: list[Message]) -> None:
        condition = "attribute_not_exists(pk)"
        if len(messages) == 1:
            self._table.put_item(Item=message_item(session_id, messages[0]), ConditionExpression=condition)
            return
        self._client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._name,
                        "Item": message_item(session_id, m),
                        "ConditionExpression": condition,
                    }
                }
                for m in messages
            ]
        )

    def update_head(self, session_id: str, expected_version: int, changes: HeadChanges) -> SessionHead:
        """Apply `changes` if the head is still at `expected_version`; else Conflict with the current one."""
        now = utc_now()
        assignments = ["#version = :next", "updated_at = :now", "#active_day = :day"]
        values: dict[str, Any] = {
            ":next": expected_version + 1,
            ":expected": expected_version,
            ":now": now,
            ":day": day_of(now),
            ":hot": StorageTier.HOT.value,
            ":warm": StorageTier.WARM.value,
        }
        if changes.metadata is not None:
            assignments.append("metadata = :metadata")
            values[":metadata"] = json.dumps(changes.metadata)
        if changes.participants is not None:
            assignments.append("participants = :participants")
            values[":participants"] = [p.model_dump(mode="json") for p in changes.participants]
        try:
            updated = self._table.update_item(
                Key={"pk": session_id, "sk": HEAD_SK},
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression="attribute_exists(pk) AND #version = :expected "
                "AND #tier IN (:hot, :warm)",
                ExpressionAttributeNames={"#version": "version", "#tier": "tier", "#active_day": ACTIVE_DAY},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if not failed_condition(exc):
                raise
            current = self._sessions.get_head(session_id)
            if not current.is_live:
                raise SessionNotLive(current) from exc
            raise Conflict(
                f"Session '{session_id}' is at version {current.version}, not {expected_version}: "
                "read it again and retry with If-Match set to the current version.",
                {"session_id": session_id, "current_version": current.version},
            ) from exc
        return head_from(updated["Attributes"])
