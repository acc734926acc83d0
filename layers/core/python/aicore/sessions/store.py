"""Sessions in DynamoDB: one partition per session (head, hot messages, warm chunks), pointers for lookups.

Items of a session share `pk = <session_id>`:
- the head, `sk = "SESSION"`: participants, metadata, `version`, `message_count`, tier, summary;
- hot messages, `sk = "MSG#<seq, 12 digits>"`, one item each;
- warm chunks, `sk = "CHUNK#<first seq, 12 digits>"`: older messages compressed (`aicore.sessions.chunks`).
"CHUNK#" < "MSG#" < "SESSION": one descending query from the head returns it and the newest messages.

Appends reserve their sequence numbers with one atomic `ADD message_count` on the head (it never
conflicts, so 50 writers on one session all get in at the first try: one total order, no retries),
then put their messages under those numbers, each put conditional on the slot being empty.
Metadata and participant changes are conditional on `version`; tier moves on the tier they expect.
Live heads carry the sparse `dormancy` index keys, so the archive sweep finds dormant sessions
without a scan.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError

from aicore import aws
from aicore.errors import Conflict, NotFound
from aicore.events import utc_now
from aicore.sessions.chunks import ENCODING, Chunk, decode_messages, newest_before
from aicore.sessions.models import HeadChanges, Message, NewMessage, SessionHead, Tier
from aicore.topology import SESSION_DORMANCY_INDEX

HEAD_SK = "SESSION"
MSG_PREFIX = "MSG#"
CHUNK_PREFIX = "CHUNK#"
DORMANCY_SHARDS = 16
BATCH_WRITE_MAX = 25
CHUNKS_PER_READ = 4
CHUNKS_PER_TRANSACTION = 8  # a transaction carries at most 4 MB; chunks are at most ~300 KB
# The dormancy index's keys, on live heads only: which shard, and the day last active.
SHARD = SESSION_DORMANCY_INDEX.partition_key
ACTIVE_DAY = str(SESSION_DORMANCY_INDEX.sort_key)


def message_sk(seq: int) -> str:
    return f"{MSG_PREFIX}{seq:012d}"


def chunk_sk(first_seq: int) -> str:
    return f"{CHUNK_PREFIX}{first_seq:012d}"


def pair_key(world_id: str, player_id: str, npc_id: str) -> str:
    return f"PAIR#{world_id}#{player_id}#{npc_id}"


def dormancy_shard(session_id: str) -> str:
    """Spreads live heads over a few index partitions, so no one partition takes every append."""
    return f"{int(hashlib.sha256(session_id.encode()).hexdigest()[:8], 16) % DORMANCY_SHARDS:02d}"


def day_of(timestamp: str) -> str:
    return timestamp[:10]


class SessionNotLive(Conflict):
    """The session is cold, or moving between tiers: it must be brought back before this write."""

    def __init__(self, head: SessionHead) -> None:
        super().__init__(
            f"Session '{head.session_id}' is {head.tier.value}: try again in a moment.",
            {"session_id": head.session_id, "tier": head.tier.value},
        )
        self.head = head


class SessionStore(Protocol):
    """What the sessions service needs of storage."""

    def create(self, head: SessionHead, pair: str | None = None) -> SessionHead: ...
    def find_pair(self, pair: str) -> str | None: ...
    def get_head(self, session_id: str) -> SessionHead: ...
    def head_and_recent(self, session_id: str, limit: int) -> tuple[SessionHead, list[Message]]: ...
    def page(self, head: SessionHead, before: int | None, limit: int) -> list[Message]: ...
    def append(self, head: SessionHead, new: list[NewMessage]) -> tuple[SessionHead, list[Message]]: ...
    def update_head(self, session_id: str, expected_version: int, changes: HeadChanges) -> SessionHead: ...


class AppendObserver(Protocol):
    """Told about every append that landed (e.g. to ask for compaction when the hot part grows)."""

    def appended(self, head: SessionHead, messages: list[Message]) -> None: ...


def _not_found(session_id: str) -> NotFound:
    return NotFound(f"Session '{session_id}' does not exist.", {"session_id": session_id})


def _failed_condition(exc: ClientError) -> bool:
    return bool(exc.response["Error"]["Code"] == "ConditionalCheckFailedException")


class DynamoSessionStore:
    def __init__(self, table_name: str, observer: AppendObserver | None = None) -> None:
        self._name = table_name
        self._table = aws.table(table_name)
        self._client = self._table.meta.client
        self._observer = observer

    # --- create and find ---------------------------------------------------------------------------

    def create(self, head: SessionHead, pair: str | None = None) -> SessionHead:
        """Create a session; with `pair`, at most one session ever exists for that pair."""
        put_head = {
            "Put": {
                "TableName": self._name,
                "Item": self._live_head_item(head),
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

    # --- read -------------------------------------------------------------------------------------

    def get_head(self, session_id: str) -> SessionHead:
        item = self._table.get_item(Key={"pk": session_id, "sk": HEAD_SK}, ConsistentRead=True).get("Item")
        if item is None:
            raise _not_found(session_id)
        return head_from(item)

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
            raise _not_found(session_id)
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
                    ":hot": Tier.HOT.value,
                    ":warm": Tier.WARM.value,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _failed_condition(exc):
                raise SessionNotLive(self.get_head(head.session_id)) from exc
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
            ":hot": Tier.HOT.value,
            ":warm": Tier.WARM.value,
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
            if not _failed_condition(exc):
                raise
            current = self.get_head(session_id)
            if not current.is_live:
                raise SessionNotLive(current) from exc
            raise Conflict(
                f"Session '{session_id}' is at version {current.version}, not {expected_version}: "
                "read it again and retry with If-Match set to the current version.",
                {"session_id": session_id, "current_version": current.version},
            ) from exc
        return head_from(updated["Attributes"])

    # --- warm tier: compaction --------------------------------------------------------------------

    def hot_messages(self, session_id: str, after_seq: int, through_seq: int) -> list[Message]:
        """Hot message items with `after_seq` < seq <= `through_seq`, oldest first."""
        if through_seq <= after_seq:
            return []
        return [
            message_from(i)
            for i in self._query_all(
                Key("sk").between(message_sk(after_seq + 1), message_sk(through_seq)), session_id
            )
        ]

    def lease_compaction(self, head: SessionHead, until: str, now: str) -> bool:
        """Take the session's compaction for a while (one summarizer at a time), if nobody holds it."""
        try:
            self._table.update_item(
                Key={"pk": head.session_id, "sk": HEAD_SK},
                UpdateExpression="SET compaction_lease = :until",
                ConditionExpression="compacted_through = :seen AND #tier IN (:hot, :warm) "
                "AND (attribute_not_exists(compaction_lease) OR compaction_lease < :now)",
                ExpressionAttributeNames={"#tier": "tier"},
                ExpressionAttributeValues={
                    ":until": until,
                    ":now": now,
                    ":seen": head.compacted_through,
                    ":hot": Tier.HOT.value,
                    ":warm": Tier.WARM.value,
                },
            )
        except ClientError as exc:
            if _failed_condition(exc):
                return False
            raise
        return True

    def release_compaction(self, head: SessionHead, until: str) -> None:
        """Give back a lease this summarizer holds (it failed: the event's retry may try again)."""
        try:
            self._table.update_item(
                Key={"pk": head.session_id, "sk": HEAD_SK},
                UpdateExpression="REMOVE compaction_lease",
                ConditionExpression="compaction_lease = :until",
                ExpressionAttributeValues={":until": until},
            )
        except ClientError as exc:
            if not _failed_condition(exc):
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
            self._delete_sks(current.session_id, [message_sk(m.seq) for c in group for m in c.messages])
        return current

    def _commit_chunks(
        self, head: SessionHead, chunks: Sequence[Chunk], summary: str, summary_through: int
    ) -> SessionHead:
        compacted_through = chunks[-1].last_seq
        update = {
            "Update": {
                "TableName": self._name,
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
                    ":hot": Tier.HOT.value,
                    ":warm": Tier.WARM.value,
                },
            }
        }
        puts = [
            {
                "Put": {
                    "TableName": self._name,
                    "Item": chunk_item(head.session_id, chunk.first_seq, chunk.last_seq, chunk.encode()),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for chunk in chunks
        ]
        try:
            self._client.transact_write_items(TransactItems=[update, *puts])
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise Conflict(
                    "The session was compacted or archived meanwhile.", {"session_id": head.session_id}
                ) from exc
            raise
        return head.model_copy(
            update={
                "compacted_through": compacted_through,
                "summary": summary,
                "summary_through": summary_through,
                "tier": Tier.WARM,
            }
        )

    # --- cold tier: archive and rehydrate ---------------------------------------------------------

    def everything(self, session_id: str) -> tuple[list[Message], list[tuple[int, int]]]:
        """Every message of a session (oldest first, each seq once) and its chunk layout."""
        by_seq: dict[int, Message] = {}
        bounds: list[tuple[int, int]] = []
        for item in self._query_all(Key("sk").between(CHUNK_PREFIX, MSG_PREFIX + "~"), session_id):
            if item["sk"].startswith(CHUNK_PREFIX):
                bounds.append((int(item["first_seq"]), int(item["last_seq"])))
                by_seq.update((m.seq, m) for m in decode_messages(bytes(item["data"])))
            else:
                message = message_from(item)
                by_seq.setdefault(message.seq, message)
        return [by_seq[seq] for seq in sorted(by_seq)], sorted(bounds)

    def freeze(self, session_id: str, active_before: str | None) -> SessionHead | None:
        """live -> archiving (writes now wait), if still live and, with `active_before`, still dormant."""
        condition = "#tier IN (:hot, :warm)"
        values: dict[str, Any] = {":hot": Tier.HOT.value, ":warm": Tier.WARM.value}
        if active_before is not None:
            condition += " AND updated_at < :active_before"
            values[":active_before"] = active_before
        return self._move(session_id, Tier.ARCHIVING, condition, values)

    def thaw(self, session_id: str) -> SessionHead | None:
        """archiving -> live again: an archive that failed gives the session back untouched."""
        head = self.get_head(session_id)
        if head.tier is not Tier.ARCHIVING:
            return None
        # Nothing compacts an archiving session, so its live tier cannot change under us.
        return self._move(
            session_id, head.live_tier, "#tier = :archiving", {":archiving": Tier.ARCHIVING.value}
        )

    def seal(self, head: SessionHead, key: str) -> SessionHead:
        """archiving -> cold: the head becomes a tombstone pointing at `key`; idempotent."""
        now = utc_now()
        try:
            updated = self._table.update_item(
                Key={"pk": head.session_id, "sk": HEAD_SK},
                UpdateExpression="SET #tier = :cold, archive_key = :key, tier_changed_at = :now "
                "REMOVE #shard, #active_day",
                ConditionExpression="(#tier = :archiving AND message_count = :count) "
                "OR (#tier = :cold AND archive_key = :key)",
                ExpressionAttributeNames={"#tier": "tier", "#shard": SHARD, "#active_day": ACTIVE_DAY},
                ExpressionAttributeValues={
                    ":cold": Tier.COLD.value,
                    ":archiving": Tier.ARCHIVING.value,
                    ":key": key,
                    ":count": head.message_count,
                    ":now": now,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _failed_condition(exc):
                raise Conflict("The session is not being archived.", {"session_id": head.session_id}) from exc
            raise
        return head_from(updated["Attributes"])

    def purge(self, session_id: str) -> int:
        """Delete every message and chunk item of a (cold) session; returns how many."""
        sks = [
            i["sk"]
            for i in self._query_all(
                Key("sk").between(CHUNK_PREFIX, MSG_PREFIX + "~"), session_id, keys_only=True
            )
        ]
        self._delete_sks(session_id, sks)
        return len(sks)

    def claim_rehydration(self, session_id: str, stale_before: str) -> SessionHead | None:
        """cold -> rehydrating; also takes over a rehydration that stalled before `stale_before`."""
        return self._move(
            session_id,
            Tier.REHYDRATING,
            "#tier = :cold OR (#tier = :rehydrating AND tier_changed_at < :stale)",
            {":cold": Tier.COLD.value, ":rehydrating": Tier.REHYDRATING.value, ":stale": stale_before},
        )

    def release_rehydration(self, session_id: str) -> SessionHead | None:
        """rehydrating -> cold: a failed rehydration leaves the archive as the truth."""
        return self._move(
            session_id, Tier.COLD, "#tier = :rehydrating", {":rehydrating": Tier.REHYDRATING.value}
        )

    def put_archived_items(
        self, session_id: str, messages: Sequence[Message], chunks: Sequence[Chunk]
    ) -> None:
        """Write chunks and hot messages as they were (batch writes: the slots are claimed, or new)."""
        chunked = {m.seq for c in chunks for m in c.messages}
        items = [chunk_item(session_id, c.first_seq, c.last_seq, c.encode()) for c in chunks]
        items += [message_item(session_id, m) for m in messages if m.seq not in chunked]
        with self._table.batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)

    def finish_rehydration(self, archived: SessionHead, key: str) -> SessionHead:
        """rehydrating -> live, with the head as it was archived (and active as of now)."""
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
            self._table.put_item(
                Item=self._live_head_item(head),
                ConditionExpression="#tier = :rehydrating AND archive_key = :key",
                ExpressionAttributeNames={"#tier": "tier"},
                ExpressionAttributeValues={":rehydrating": Tier.REHYDRATING.value, ":key": key},
            )
        except ClientError as exc:
            if _failed_condition(exc):
                raise Conflict(
                    "The session is not being rehydrated.", {"session_id": archived.session_id}
                ) from exc
            raise
        return head

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
                response = self._table.query(**query)
                found += [str(i["pk"]) for i in response["Items"]]
                if "LastEvaluatedKey" not in response:
                    break
                query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
                query["Limit"] = limit - len(found)
            if len(found) >= limit:
                break
        return found[:limit]

    # --- helpers ----------------------------------------------------------------------------------

    def _move(self, session_id: str, to: Tier, condition: str, values: dict[str, Any]) -> SessionHead | None:
        """A conditional tier move; None when the head is not in the state the move expects."""
        try:
            updated = self._table.update_item(
                Key={"pk": session_id, "sk": HEAD_SK},
                UpdateExpression="SET #tier = :to, tier_changed_at = :now",
                ConditionExpression=f"attribute_exists(pk) AND ({condition})",
                ExpressionAttributeNames={"#tier": "tier"},
                ExpressionAttributeValues={**values, ":to": to.value, ":now": utc_now()},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _failed_condition(exc):
                return None
            raise
        return head_from(updated["Attributes"])

    def _query_all(
        self, sk_condition: Any, session_id: str, keys_only: bool = False
    ) -> Iterator[dict[str, Any]]:
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(session_id) & sk_condition,
            "ConsistentRead": True,
        }
        if keys_only:
            query["ProjectionExpression"] = "pk, sk"
        yield from aws.query_items(self._table, **query)

    def _delete_sks(self, session_id: str, sks: Sequence[str]) -> None:
        with self._table.batch_writer() as batch:
            for sk in sks:
                batch.delete_item(Key={"pk": session_id, "sk": sk})

    @staticmethod
    def _live_head_item(head: SessionHead) -> dict[str, Any]:
        return {
            **head_item(head),
            SHARD: dormancy_shard(head.session_id),
            ACTIVE_DAY: day_of(head.updated_at),
        }


def head_item(head: SessionHead) -> dict[str, Any]:
    # Metadata is free-form JSON: stored as text so floats and nesting survive DynamoDB.
    fields = head.model_dump(mode="json", exclude={"metadata"}, exclude_none=True)
    return {"pk": head.session_id, "sk": HEAD_SK, **fields, "metadata": json.dumps(head.metadata)}


def message_item(session_id: str, message: Message) -> dict[str, Any]:
    return {
        "pk": session_id,
        "sk": message_sk(message.seq),
        **message.model_dump(mode="json", exclude_none=True),
    }


def chunk_item(session_id: str, first_seq: int, last_seq: int, data: bytes) -> dict[str, Any]:
    return {
        "pk": session_id,
        "sk": chunk_sk(first_seq),
        "first_seq": first_seq,
        "last_seq": last_seq,
        "encoding": ENCODING,
        "data": Binary(data),
    }


def head_from(item: dict[str, Any]) -> SessionHead:
    return SessionHead.model_validate({**item, "metadata": json.loads(item.get("metadata") or "{}")})


def message_from(item: dict[str, Any]) -> Message:
    return Message.model_validate(item)
