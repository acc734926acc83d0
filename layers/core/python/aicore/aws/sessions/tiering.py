"""DynamoDB side of the tier moves: freeze, seal and purge for the archive; claim, restore, release to
bring a session back; the dormancy sweep's index query.

Implements `aicore.sessions.tiers.TieringStore` over the sessions table (`aicore.sessions.table`).
Every move is conditional on the state it expects and records its mover on the head (`mover`), so
each step can be retried: the same mover finds its own move, another is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from aicore.aws.sessions.table import (
    ACTIVE_DAY,
    CHUNK_PREFIX,
    DORMANCY_SHARDS,
    HEAD_SK,
    MOVER,
    MSG_PREFIX,
    SHARD,
    SessionTable,
    chunk_item,
    failed_condition,
    head_from,
    live_head_item,
    message_from,
    message_item,
)
from aicore.clock import utc_now
from aicore.errors import Conflict, NotFound
from aicore.sessions.chunks import Chunk, decode_messages
from aicore.sessions.models import Message, SessionHead, StorageTier
from aicore.topology import SESSION_DORMANCY_INDEX


class DynamoTieringStore:
    def __init__(self, table: SessionTable | str) -> None:
        self._table = table if isinstance(table, SessionTable) else SessionTable(table)

    def get_head(self, session_id: str) -> SessionHead:
        return self._table.get_head(session_id)

    def moved_by(self, session_id: str) -> tuple[SessionHead, str | None]:
        return self._table.get_head_and_mover(session_id)

    def everything(self, session_id: str) -> tuple[list[Message], list[tuple[int, int]]]:
        """Every message of a session (oldest first, each seq once) and its chunk layout."""
        by_seq: dict[int, Message] = {}
        bounds: list[tuple[int, int]] = []
        for item in self._table.query_all(Key("sk").between(CHUNK_PREFIX, MSG_PREFIX + "~"), session_id):
            if item["sk"].startswith(CHUNK_PREFIX):
                bounds.append((int(item["first_seq"]), int(item["last_seq"])))
                by_seq.update((m.seq, m) for m in decode_messages(bytes(item["data"])))
            elif item["sk"].startswith(MSG_PREFIX):  # not the append keys between them
                message = message_from(item)
                by_seq.setdefault(message.seq, message)
        return [by_seq[seq] for seq in sorted(by_seq)], sorted(bounds)

    def freeze(self, session_id: str, active_before: str | None, mover: str) -> SessionHead | None:
        """live -> archiving (writes now wait), if still live and, with `active_before`, still dormant;
        the head as it is if `mover` froze it already (its freeze run again)."""
        condition = "#tier IN (:hot, :warm)"
        values: dict[str, Any] = {":hot": StorageTier.HOT.value, ":warm": StorageTier.WARM.value}
        if active_before is not None:
            condition += " AND updated_at < :active_before"
            values[":active_before"] = active_before
        frozen = self._table.move(session_id, StorageTier.ARCHIVING, mover, condition, values)
        return frozen or self._moved_to(session_id, StorageTier.ARCHIVING, mover)

    def thaw(self, session_id: str, mover: str) -> SessionHead | None:
        """archiving by `mover` -> live again: an archive that failed gives the session back untouched."""
        head = self._table.get_head(session_id)
        if head.tier is not StorageTier.ARCHIVING:
            return None
        # Nothing compacts an archiving session, so its live tier cannot change under us.
        return self._table.move(
            session_id,
            head.live_tier,
            mover,
            "#tier = :archiving AND #mover = :mover",
            {":archiving": StorageTier.ARCHIVING.value},
        )

    def seal(self, head: SessionHead, key: str) -> SessionHead:
        """archiving -> cold: the head becomes a tombstone pointing at `key`; idempotent."""
        now = utc_now()
        try:
            updated = self._table.table.update_item(
                Key={"pk": head.session_id, "sk": HEAD_SK},
                UpdateExpression="SET #tier = :cold, archive_key = :key, tier_changed_at = :now "
                "REMOVE #shard, #active_day",
                ConditionExpression="(#tier = :archiving AND message_count = :count) "
                "OR (#tier = :cold AND archive_key = :key)",
                ExpressionAttributeNames={"#tier": "tier", "#shard": SHARD, "#active_day": ACTIVE_DAY},
                ExpressionAttributeValues={
                    ":cold": StorageTier.COLD.value,
                    ":archiving": StorageTier.ARCHIVING.value,
                    ":key": key,
                    ":count": head.message_count,
                    ":now": now,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if failed_condition(exc):
                raise Conflict("The session is not being archived.", {"session_id": head.session_id}) from exc
            raise
        return head_from(updated["Attributes"])

    def purge(self, session_id: str) -> int:
        """Delete every message and chunk item of a (cold) session; returns how many."""
        sks = [
            i["sk"]
            for i in self._table.query_all(
                Key("sk").between(CHUNK_PREFIX, MSG_PREFIX + "~"), session_id, keys_only=True
            )
        ]
        self._table.delete_sks(session_id, sks)
        return len(sks)

    def claim_rehydration(self, session_id: str, stale_before: str, mover: str) -> SessionHead | None:
        """cold -> rehydrating; also takes over a rehydration that stalled before `stale_before`, and
        answers `mover`'s own claim run again."""
        claimed = self._table.move(
            session_id,
            StorageTier.REHYDRATING,
            mover,
            "#tier = :cold OR (#tier = :rehydrating AND tier_changed_at < :stale)",
            {
                ":cold": StorageTier.COLD.value,
                ":rehydrating": StorageTier.REHYDRATING.value,
                ":stale": stale_before,
            },
        )
        return claimed or self._moved_to(session_id, StorageTier.REHYDRATING, mover)

    def release_rehydration(self, session_id: str, mover: str) -> SessionHead | None:
        """rehydrating by `mover` -> cold: a failed rehydration leaves the archive as the truth."""
        return self._table.move(
            session_id,
            StorageTier.COLD,
            mover,
            "#tier = :rehydrating AND #mover = :mover",
            {":rehydrating": StorageTier.REHYDRATING.value},
        )

    def put_archived_items(
        self, session_id: str, messages: Sequence[Message], chunks: Sequence[Chunk]
    ) -> None:
        """Write chunks and hot messages as they were (batch writes: the slots are claimed, or new)."""
        chunked = {m.seq for c in chunks for m in c.messages}
        items = [chunk_item(session_id, c.first_seq, c.last_seq, c.encode()) for c in chunks]
        items += [message_item(session_id, m) for m in messages if m.seq not in chunked]
        with self._table.table.batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)

    def finish_rehydration(self, archived: SessionHead, key: str, mover: str) -> SessionHead:
        """rehydrating by `mover` -> live, with the head as it was archived (and active as of now)."""
        now = utc_now()
        head = archived.model_copy(
            update={
                "tier": archived.live_tier,
                "archive_key": None,
                "tier_changed_at": now,
                "updated_at": now,
            }
        )
        try:
            self._table.table.put_item(
                Item={**live_head_item(head), MOVER: mover},
                ConditionExpression="#tier = :rehydrating AND archive_key = :key AND #mover = :mover",
                ExpressionAttributeNames={"#tier": "tier", "#mover": MOVER},
                ExpressionAttributeValues={
                    ":rehydrating": StorageTier.REHYDRATING.value,
                    ":key": key,
                    ":mover": mover,
                },
            )
        except ClientError as exc:
            if failed_condition(exc):
                raise Conflict(
                    "The session is not being rehydrated.", {"session_id": archived.session_id}
                ) from exc
            raise
        return head

    def _moved_to(self, session_id: str, tier: StorageTier, mover: str) -> SessionHead | None:
        """The head, if `mover` moved it to `tier` already (its step run again: nothing is written)."""
        try:
            head, moved_by = self._table.get_head_and_mover(session_id)
        except NotFound:
            return None
        return head if head.tier is tier and moved_by == mover else None

    def dormant(self, active_before_day: str, limit: int) -> list[str]:
        """Up to `limit` live sessions whose last activity was before `active_before_day`."""
        found: list[str] = []
        for shard in range(DORMANCY_SHARDS):
            query: dict[str, Any] = {
                "IndexName": SESSION_DORMANCY_INDEX.name,
                "KeyConditionExpression": Key(SHARD).eq(f"{shard:02d}")
                & Key(ACTIVE_DAY).lt(active_before_day),
                "Limit": limit - len(found),
            }
            while len(found) < limit:
                response = self._table.table.query(**query)
                found += [str(i["pk"]) for i in response["Items"]]
                if "LastEvaluatedKey" not in response:
                    break
                query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
                query["Limit"] = limit - len(found)
            if len(found) >= limit:
                break
        return found[:limit]
