"""The sessions table: one partition per session (head, hot messages, warm chunks), pointers for lookups.

Items of a session share `pk = <session_id>`:
- the head, `sk = "SESSION"`: participants, metadata, `version`, `message_count`, tier, summary;
- hot messages, `sk = "MSG#<seq, 12 digits>"`, one item each;
- warm chunks, `sk = "CHUNK#<first seq, 12 digits>"`: older messages compressed (`aicore.sessions.chunks`);
- idempotency records of appends, `sk = "KEY#<idempotency key>"`: the seq its message got.
"CHUNK#" < "MSG#" < "SESSION": one descending query from the head returns it and the newest messages.

Live heads carry the sparse `dormancy` index keys, so the archive sweep finds dormant sessions
without a scan. Three adapters share this table, one per interface the domain declares:
`store.DynamoSessionStore` (the service's `SessionStore`), `compaction.DynamoCompactionStore`
and `tiering.DynamoTieringStore`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError

from aicore import aws
from aicore.clock import utc_now
from aicore.errors import NotFound
from aicore.sessions.chunks import ENCODING
from aicore.sessions.models import Message, Participant, SessionHead, StorageTier
from aicore.topology import SESSION_DORMANCY_INDEX, SESSIONS

HEAD_SK = "SESSION"
MSG_PREFIX = "MSG#"
CHUNK_PREFIX = "CHUNK#"
KEY_PREFIX = "KEY#"
DORMANCY_SHARDS = 16
# The dormancy index's keys, on live heads only: which shard, and the day last active.
SHARD = SESSION_DORMANCY_INDEX.partition_key
ACTIVE_DAY = str(SESSION_DORMANCY_INDEX.sort_key)
LIVE = {":hot": StorageTier.HOT.value, ":warm": StorageTier.WARM.value}
WRITE_ID = "write_id"  # which append wrote an item: tells a lost answer from a lost race
KEY_TTL_S = 24 * 3600  # how long an append's idempotency key is remembered
EXPIRES_AT = str(SESSIONS.ttl_attribute)
IS_LIVE = "#tier IN (:hot, :warm)"
MOVER = "mover"  # which tier move last moved a head: a flow's execution, or one inline rehydration


def message_sk(seq: int) -> str:
    return f"{MSG_PREFIX}{seq:012d}"


def key_sk(idempotency_key: str) -> str:
    return f"{KEY_PREFIX}{idempotency_key}"


def chunk_sk(first_seq: int) -> str:
    return f"{CHUNK_PREFIX}{first_seq:012d}"


def dormancy_shard(session_id: str) -> str:
    """Spreads live heads over a few index partitions, so no one partition takes every append."""
    return f"{int(hashlib.sha256(session_id.encode()).hexdigest()[:8], 16) % DORMANCY_SHARDS:02d}"


def day_of(timestamp: str) -> str:
    return timestamp[:10]


def not_found(session_id: str) -> NotFound:
    return NotFound(f"Session '{session_id}' does not exist.", {"session_id": session_id})


def failed_condition(exc: ClientError) -> bool:
    return bool(exc.response["Error"]["Code"] == "ConditionalCheckFailedException")


def cancelled(exc: ClientError) -> bool:
    return bool(exc.response["Error"]["Code"] == "TransactionCanceledException")


class SessionTable:
    """The sessions table and what its adapters share: reading heads, queries, deletes, tier moves."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.table = aws.table(name)
        self.client = aws.resource_client(self.table)

    def get_head(self, session_id: str) -> SessionHead:
        item = self.table.get_item(Key={"pk": session_id, "sk": HEAD_SK}, ConsistentRead=True).get("Item")
        if item is None:
            raise not_found(session_id)
        return head_from(item)

    def query_all(
        self, sk_condition: Any, session_id: str, keys_only: bool = False
    ) -> Iterator[dict[str, Any]]:
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(session_id) & sk_condition,
            "ConsistentRead": True,
        }
        if keys_only:
            query["ProjectionExpression"] = "pk, sk"
        yield from aws.query_items(self.table, **query)

    def delete_sks(self, session_id: str, sks: Sequence[str]) -> None:
        with self.table.batch_writer() as batch:
            for sk in sks:
                batch.delete_item(Key={"pk": session_id, "sk": sk})

    def get_head_and_mover(self, session_id: str) -> tuple[SessionHead, str | None]:
        item = self.table.get_item(Key={"pk": session_id, "sk": HEAD_SK}, ConsistentRead=True).get("Item")
        if item is None:
            raise not_found(session_id)
        mover = item.get(MOVER)
        return head_from(item), None if mover is None else str(mover)

    def move(
        self, session_id: str, to: StorageTier, mover: str, condition: str, values: dict[str, Any]
    ) -> SessionHead | None:
        """A conditional tier move by `mover` (recorded on the head, `:mover` in `condition`); None
        when the head is not in the state the move expects."""
        try:
            updated = self.table.update_item(
                Key={"pk": session_id, "sk": HEAD_SK},
                UpdateExpression="SET #tier = :to, tier_changed_at = :now, #mover = :mover",
                ConditionExpression=f"attribute_exists(pk) AND ({condition})",
                ExpressionAttributeNames={"#tier": "tier", "#mover": MOVER},
                ExpressionAttributeValues={**values, ":to": to.value, ":now": utc_now(), ":mover": mover},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if failed_condition(exc):
                return None
            raise
        return head_from(updated["Attributes"])


def head_item(head: SessionHead) -> dict[str, Any]:
    # Metadata is free-form JSON: stored as text so floats and nesting survive DynamoDB.
    fields = head.model_dump(mode="json", exclude={"metadata", "participants"}, exclude_none=True)
    return {
        "pk": head.session_id,
        "sk": HEAD_SK,
        **fields,
        "metadata": json.dumps(head.metadata),
        "participants": {p.id: participant_entry(p, order) for order, p in enumerate(head.participants)},
    }


def participant_entry(participant: Participant, order: int) -> dict[str, Any]:
    """Participants are a map by id, so one can join or leave atomically while others do too;
    `order` keeps them in the order they came (creation index, then the time they joined)."""
    return {"kind": participant.kind.value, "order": order}


def live_head_item(head: SessionHead) -> dict[str, Any]:
    """A live head, with the dormancy index's keys."""
    return {**head_item(head), SHARD: dormancy_shard(head.session_id), ACTIVE_DAY: day_of(head.updated_at)}


def message_item(session_id: str, message: Message) -> dict[str, Any]:
    return {
        "pk": session_id,
        "sk": message_sk(message.seq),
        **message.model_dump(mode="json", exclude_none=True),
    }


def key_item(session_id: str, idempotency_key: str, seq: int, write_id: str) -> dict[str, Any]:
    """The record of an idempotency key: the seq its message got; DynamoDB's TTL removes it later."""
    return {
        "pk": session_id,
        "sk": key_sk(idempotency_key),
        "seq": seq,
        WRITE_ID: write_id,
        EXPIRES_AT: int(time.time()) + KEY_TTL_S,
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
    by_id: dict[str, Any] = item.get("participants") or {}
    in_order = sorted(by_id.items(), key=lambda entry: (int(entry[1]["order"]), entry[0]))
    participants = [{"id": pid, "kind": entry["kind"]} for pid, entry in in_order]
    metadata = json.loads(item.get("metadata") or "{}")
    return SessionHead.model_validate({**item, "metadata": metadata, "participants": participants})


def message_from(item: dict[str, Any]) -> Message:
    return Message.model_validate(item)
