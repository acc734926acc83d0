"""DynamoDB side of the warm tier: read hot messages, lease the compaction, commit chunks and summary.

Implements `aicore.sessions.compaction.CompactionStore` over the sessions table (`aicore.sessions.table`).
"""

from __future__ import annotations

from collections.abc import Sequence

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from aicore.aws.sessions.table import (
    HEAD_SK,
    SessionTable,
    cancelled,
    chunk_item,
    failed_condition,
    message_from,
    message_sk,
)
from aicore.errors import Conflict
from aicore.sessions.chunks import Chunk
from aicore.sessions.models import Message, SessionHead, StorageTier

CHUNKS_PER_TRANSACTION = 8  # a transaction carries at most 4 MB; chunks are at most ~300 KB


class DynamoCompactionStore:
    def __init__(self, table: SessionTable | str) -> None:
        self._table = table if isinstance(table, SessionTable) else SessionTable(table)

    def get_head(self, session_id: str) -> SessionHead:
        return self._table.get_head(session_id)

    def hot_messages(self, session_id: str, after_seq: int, through_seq: int) -> list[Message]:
        """Hot message items with `after_seq` < seq <= `through_seq`, oldest first."""
        if through_seq <= after_seq:
            return []
        return [
            message_from(i)
            for i in self._table.query_all(
                Key("sk").between(message_sk(after_seq + 1), message_sk(through_seq)), session_id
            )
        ]

    def lease_compaction(self, head: SessionHead, until: str, now: str) -> bool:
        """Take the session's compaction for a while (one summarizer at a time), if nobody holds it."""
        try:
            self._table.table.update_item(
                Key={"pk": head.session_id, "sk": HEAD_SK},
                UpdateExpression="SET compaction_lease = :until",
                ConditionExpression="compacted_through = :seen AND #tier IN (:hot, :warm) "
                "AND (attribute_not_exists(compaction_lease) OR compaction_lease < :now)",
                ExpressionAttributeNames={"#tier": "tier"},
                ExpressionAttributeValues={
                    ":until": until,
                    ":now": now,
                    ":seen": head.compacted_through,
                    ":hot": StorageTier.HOT.value,
                    ":warm": StorageTier.WARM.value,
                },
            )
        except ClientError as exc:
            if failed_condition(exc):
                return False
            raise
        return True

    def release_compaction(self, head: SessionHead, until: str) -> None:
        """Give back a lease this summarizer holds (it failed: the event's retry may try again)."""
        try:
            self._table.table.update_item(
                Key={"pk": head.session_id, "sk": HEAD_SK},
                UpdateExpression="REMOVE compaction_lease",
                ConditionExpression="compaction_lease = :until",
                ExpressionAttributeValues={":until": until},
            )
        except ClientError as exc:
            if not failed_condition(exc):
                raise

    def commit_compaction(
        self, head: SessionHead, chunks: Sequence[Chunk], summary: str, summary_through: int
    ) -> SessionHead:
        """Store chunks and the new summary, if nobody compacted since `head`; then drop their hot items.

        Chunks go in transactions of a few (a transaction carries at most 4 MB), each moving
        `compacted_through` forward from exactly where the previous one left it.
        """
        current = head
        groups = [
            chunks[i : i + CHUNKS_PER_TRANSACTION] for i in range(0, len(chunks), CHUNKS_PER_TRANSACTION)
        ]
        for index, group in enumerate(groups):
            last = index == len(groups) - 1
            current = self._commit_chunks(
                current,
                group,
                summary if last else current.summary,
                summary_through if last else current.summary_through,
            )
            self._table.delete_sks(current.session_id, [message_sk(m.seq) for c in group for m in c.messages])
        return current

    def _commit_chunks(
        self, head: SessionHead, chunks: Sequence[Chunk], summary: str, summary_through: int
    ) -> SessionHead:
        compacted_through = chunks[-1].last_seq
        update = {
            "Update": {
                "TableName": self._table.name,
                "Key": {"pk": head.session_id, "sk": HEAD_SK},
                "UpdateExpression": "SET compacted_through = :through, summary = :summary, "
                "summary_through = :summary_through, #tier = :warm REMOVE compaction_lease",
                "ConditionExpression": "compacted_through = :previous AND #tier IN (:hot, :warm)",
                "ExpressionAttributeNames": {"#tier": "tier"},
                "ExpressionAttributeValues": {
                    ":through": compacted_through,
                    ":previous": head.compacted_through,
                    ":summary": summary,
                    ":summary_through": summary_through,
                    ":hot": StorageTier.HOT.value,
                    ":warm": StorageTier.WARM.value,
                },
            }
        }
        puts = [
            {
                "Put": {
                    "TableName": self._table.name,
                    "Item": chunk_item(head.session_id, chunk.first_seq, chunk.last_seq, chunk.encode()),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for chunk in chunks
        ]
        try:
            self._table.client.transact_write_items(TransactItems=[update, *puts])
        except ClientError as exc:
            if cancelled(exc):
                raise Conflict(
                    "The session was compacted or archived meanwhile.", {"session_id": head.session_id}
                ) from exc
            raise
        return head.model_copy(
            update={
                "compacted_through": compacted_through,
                "summary": summary,
                "summary_through": summary_through,
                "tier": StorageTier.WARM,
            }
        )
