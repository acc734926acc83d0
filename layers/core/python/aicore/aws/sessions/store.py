"""The sessions service's `SessionStore` over DynamoDB: create, find, read, append, change the head.

Appends reserve their sequence numbers with one atomic `ADD message_count` on the head (it never
conflicts, so 50 writers on one session all get in at the first try: one total order, no retries),
then put their messages under those numbers, each put conditional on the slot being empty.
Every head change bumps `version`; metadata changes are conditional on it (`If-Match`), and
participants join and leave one at a time, atomically, each an entry of a map, so concurrent joins of
different participants never conflict. The table's layout is in `aicore.aws.sessions.table`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from aicore import aws
from aicore.aws.sessions.table import (
    ACTIVE_DAY,
    CHUNK_PREFIX,
    HEAD_SK,
    IS_LIVE,
    LIVE,
    MSG_PREFIX,
    WRITE_ID,
    SessionTable,
    cancelled,
    chunk_sk,
    day_of,
    failed_condition,
    head_from,
    key_item,
    key_sk,
    live_head_item,
    message_from,
    message_item,
    message_sk,
    not_found,
    participant_entry,
)
from aicore.clock import utc_now
from aicore.errors import Conflict
from aicore.sessions.chunks import decode_messages, newest_before
from aicore.sessions.models import HeadChanges, Message, NewMessage, Participant, SessionHead
from aicore.sessions.store import (
    AppendObserver,
    SessionNotLive,
    already_in,
    not_a_participant,
    session_full,
    stale_version,
)

CHUNKS_PER_READ = 4


NEW_ITEM = "attribute_not_exists(pk)"
CONDITION_FAILED = "ConditionalCheckFailed"


def _put(table_name: str, item: dict[str, Any]) -> dict[str, Any]:
    """A put of a new item; if the slot is taken, the cancellation says by what (ALL_OLD)."""
    return {
        "TableName": table_name,
        "Item": item,
        "ConditionExpression": NEW_ITEM,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def _reasons(exc: ClientError) -> list[dict[str, Any]]:
    """Why each item of a cancelled transaction failed, in the order the items were given."""
    return list(exc.response.get("CancellationReasons", [])) or [{}]


def _failed(reason: dict[str, Any]) -> bool:
    return reason.get("Code") == CONDITION_FAILED


def _ours(reasons: list[dict[str, Any]], write_id: str) -> bool:
    """Whether a slot the write found taken holds this very write (it committed, then its answer
    was lost and botocore retried it)."""
    for reason in reasons:
        found = (reason.get("Item") or {}).get(WRITE_ID)
        if (found.get("S") if isinstance(found, dict) else found) == write_id:
            return True
    return False


def _numbered(new: list[NewMessage], first_seq: int, now: str) -> list[Message]:
    return [
        Message(
            seq=first_seq + i, speaker=m.speaker, text=m.text, created_at=now, correlation_id=m.correlation_id
        )
        for i, m in enumerate(new)
    ]


class _Unchanged(Exception):
    """A head change's own condition did not hold (the head is live and at the expected version)."""

    def __init__(self, head: SessionHead) -> None:
        super().__init__(head.session_id)
        self.head = head


class DynamoSessionStore:
    def __init__(self, table: SessionTable | str, observer: AppendObserver | None = None) -> None:
        self._sessions = table if isinstance(table, SessionTable) else SessionTable(table)
        self._name = self._sessions.name
        self._table = self._sessions.table
        self._client = self._sessions.client
        self._observer = observer

    # --- create and find ---------------------------------------------------------------------------

    def create(self, head: SessionHead) -> SessionHead:
        """Create a session (its id is new, or a pair's own: at most one session per id ever)."""
        try:
            self._table.put_item(Item=live_head_item(head), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if failed_condition(exc):
                raise Conflict("The session already exists.", {"session_id": head.session_id}) from exc
            raise
        return head

    def start(self, head: SessionHead, first: list[NewMessage]) -> tuple[SessionHead, list[Message]]:
        """Create a session with its first messages, in one call (a player's first line to an NPC)."""
        started = head.model_copy(update={"message_count": len(first)})
        messages = _numbered(first, 1, started.updated_at)
        write_id = uuid.uuid4().hex
        items = [{"Put": _put(self._name, live_head_item(started))}]
        items += [
            {"Put": _put(self._name, item)}
            for item in self._items(head.session_id, messages, first, write_id)
        ]
        try:
            self._client.transact_write_items(TransactItems=items, ClientRequestToken=write_id)
        except ClientError as exc:
            if not cancelled(exc):
                raise
            if not _ours(_reasons(exc), write_id):
                raise Conflict("The session already exists.", {"session_id": head.session_id}) from exc
        self._appended(started, messages)
        return started, messages

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
        """Store `new` after the messages of `head`, in one total order.

        One call when `head` is current (the usual case: one player, one NPC): a transaction moves
        `message_count` on from the count read and puts the messages under the next numbers. If
        someone appended since, two calls: one atomic `ADD message_count` reserves the numbers (it
        never conflicts, so 50 writers on one session all get in at the first try), then the puts;
        a writer that dies between the two leaves an unused number, and the order stays total.
        Each append writes a `write_id` on its items, so a write that committed although its answer
        was lost (a timeout, then a retry that finds the slots taken) is recognised as done. A
        message with an idempotency key also writes `KEY#<key>` in the same write: a retried append
        finds it and answers with the messages first stored.
        """
        if not new:
            return head, []
        write_id = uuid.uuid4().hex
        written = self._append_at(head, new, write_id)
        if written is None:
            written = self._append_reserved(head.session_id, new, write_id)
        self._appended(*written)
        return written

    def _append_at(
        self, head: SessionHead, new: list[NewMessage], write_id: str
    ) -> tuple[SessionHead, list[Message]] | None:
        """The one-call append at the count `head` says; None if the count has moved on since."""
        now = utc_now()
        messages = _numbered(new, head.message_count + 1, now)
        count = {
            "TableName": self._name,
            "Key": {"pk": head.session_id, "sk": HEAD_SK},
            "UpdateExpression": "SET message_count = :count, updated_at = :now, #active_day = :day",
            "ConditionExpression": f"message_count = :seen AND {IS_LIVE}",
            "ExpressionAttributeNames": {"#tier": "tier", "#active_day": ACTIVE_DAY},
            "ExpressionAttributeValues": {
                ":count": head.message_count + len(new),
                ":seen": head.message_count,
                ":now": now,
                ":day": day_of(now),
                **LIVE,
            },
        }
        items = [{"Update": count}]
        items += [
            {"Put": _put(self._name, item)} for item in self._items(head.session_id, messages, new, write_id)
        ]
        try:
            self._client.transact_write_items(TransactItems=items, ClientRequestToken=write_id)
        except ClientError as exc:
            if not cancelled(exc):
                raise
            reasons = _reasons(exc)
            if _ours(reasons, write_id):
                pass  # it committed: the answer to an earlier try was lost
            elif _failed(reasons[0]):
                return None  # the count moved on (or the session is not live): the reserved path says
            else:
                return self._replay(head.session_id, new)  # a key is stored already
        updated = head.model_copy(update={"message_count": head.message_count + len(new), "updated_at": now})
        return updated, messages

    def _append_reserved(
        self, session_id: str, new: list[NewMessage], write_id: str
    ) -> tuple[SessionHead, list[Message]]:
        updated = self._reserve(session_id, len(new))
        messages = _numbered(new, updated.message_count - len(new) + 1, updated.updated_at)
        items = self._items(session_id, messages, new, write_id)
        try:
            self._client.transact_write_items(
                TransactItems=[{"Put": _put(self._name, item)} for item in items],
                # Not the one-call try's token: a token reused with other items within ten minutes
                # is refused (IdempotentParameterMismatch).
                ClientRequestToken=f"r{write_id}",
            )
        except ClientError as exc:
            if not cancelled(exc):
                raise
            if not _ours(_reasons(exc), write_id):
                return self._replay(session_id, new)
        return updated, messages

    def _reserve(self, session_id: str, count: int) -> SessionHead:
        now = utc_now()
        try:
            reserved = self._table.update_item(
                Key={"pk": session_id, "sk": HEAD_SK},
                UpdateExpression="ADD message_count :n SET updated_at = :now, #active_day = :day",
                ConditionExpression=f"attribute_exists(pk) AND {IS_LIVE}",
                ExpressionAttributeNames={"#tier": "tier", "#active_day": ACTIVE_DAY},
                ExpressionAttributeValues={":n": count, ":now": now, ":day": day_of(now), **LIVE},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if failed_condition(exc):
                raise SessionNotLive(self._sessions.get_head(session_id)) from exc
            raise
        return head_from(reserved["Attributes"])

    @staticmethod
    def _items(
        session_id: str, messages: list[Message], new: list[NewMessage], write_id: str
    ) -> list[dict[str, Any]]:
        """The items of an append: each message, and the record of each idempotency key."""
        items = [{**message_item(session_id, m), WRITE_ID: write_id} for m in messages]
        items += [
            key_item(session_id, line.idempotency_key, message.seq, write_id)
            for message, line in zip(messages, new, strict=True)
            if line.idempotency_key
        ]
        return items

    def _appended(self, head: SessionHead, messages: list[Message]) -> None:
        if self._observer is not None and messages:
            self._observer.appended(head, messages)

    def _replay(self, session_id: str, new: list[NewMessage]) -> tuple[SessionHead, list[Message]]:
        """An append whose idempotency keys were stored before: the messages as first stored."""
        keys = [n.idempotency_key for n in new]
        records = self._get_items(session_id, [key_sk(k) for k in keys if k])
        if None in keys or len(records) != len(keys):
            raise Conflict(
                "Some of these messages were stored before under their idempotency keys and some "
                "were not: send the ones not stored again, each with its own new key.",
                {"session_id": session_id},
            )
        seqs = [int(records[key_sk(str(k))]["seq"]) for k in keys]
        stored = self._get_items(session_id, [message_sk(seq) for seq in seqs])
        first = [message_from(stored[message_sk(seq)]) for seq in seqs if message_sk(seq) in stored]
        if len(first) != len(new) or any(
            (m.speaker, m.text) != (n.speaker, n.text) for m, n in zip(first, new, strict=True)
        ):
            raise Conflict(
                "An idempotency key of this append was used before for another message: "
                "use a new key for each new message.",
                {"session_id": session_id},
            )
        return self._sessions.get_head(session_id), first

    def _get_items(self, session_id: str, sort_keys: list[str]) -> dict[str, dict[str, Any]]:
        """Items of one session by sort key, read consistently in one call (at most 25 here)."""
        if not sort_keys:
            return {}
        request = {
            self._name: {
                "Keys": [{"pk": session_id, "sk": sk} for sk in dict.fromkeys(sort_keys)],
                "ConsistentRead": True,
            }
        }
        found: list[dict[str, Any]] = []
        while request:
            response = self._client.batch_get_item(RequestItems=request)
            found += response["Responses"].get(self._name, [])
            request = response.get("UnprocessedKeys") or {}
        return {item["sk"]: item for item in found}

    def update_head(self, session_id: str, expected_version: int, changes: HeadChanges) -> SessionHead:
        """Apply `changes` if the head is still at `expected_version`; else Conflict with the current one."""
        assignments, values = [], {}
        if changes.metadata is not None:
            assignments.append("metadata = :metadata")
            values[":metadata"] = json.dumps(changes.metadata)
        return self._change_head(session_id, assignments, values, expected_version)

    def add_participant(
        self, session_id: str, participant: Participant, expected_version: int | None, limit: int
    ) -> SessionHead:
        names = {"#participants": "participants", "#who": participant.id}
        try:
            return self._change_head(
                session_id,
                ["#participants.#who = :entry"],
                {":entry": participant_entry(participant, time.time_ns() // 1_000_000), ":limit": limit},
                expected_version,
                condition="attribute_not_exists(#participants.#who) AND size(#participants) < :limit",
                names=names,
            )
        except _Unchanged as unchanged:
            head = unchanged.head
        known = next((p for p in head.participants if p.id == participant.id), None)
        if known == participant:
            return head  # already in, as asked: a retried join is not an error
        if known is not None:
            raise already_in(known)
        raise session_full(limit)

    def remove_participant(
        self, session_id: str, participant_id: str, expected_version: int | None
    ) -> SessionHead:
        try:
            return self._change_head(
                session_id,
                [],
                {},
                expected_version,
                condition="attribute_exists(#participants.#who)",
                names={"#participants": "participants", "#who": participant_id},
                remove="#participants.#who",
            )
        except _Unchanged:
            raise not_a_participant(participant_id) from None

    def _change_head(
        self,
        session_id: str,
        assignments: list[str],
        values: dict[str, Any],
        expected_version: int | None,
        *,
        condition: str | None = None,
        names: dict[str, str] | None = None,
        remove: str | None = None,
    ) -> SessionHead:
        """One atomic change of a live head that bumps its version; with `expected_version`, only at
        that version. A failed `condition` raises `_Unchanged` with the head as it is now."""
        now = utc_now()
        guards = [f"attribute_exists(pk) AND {IS_LIVE}"]
        if expected_version is not None:
            guards.append("#version = :expected")
            values = {**values, ":expected": expected_version}
        if condition:
            guards.append(f"({condition})")
        update = "SET " + ", ".join(["updated_at = :now", "#active_day = :day", *assignments])
        update += " ADD #version :one" + (f" REMOVE {remove}" if remove else "")
        try:
            updated = self._table.update_item(
                Key={"pk": session_id, "sk": HEAD_SK},
                UpdateExpression=update,
                ConditionExpression=" AND ".join(guards),
                ExpressionAttributeNames={
                    "#version": "version",
                    "#tier": "tier",
                    "#active_day": ACTIVE_DAY,
                    **(names or {}),
                },
                ExpressionAttributeValues={**values, ":now": now, ":day": day_of(now), ":one": 1, **LIVE},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if not failed_condition(exc):
                raise
            current = self._sessions.get_head(session_id)
            if not current.is_live:
                raise SessionNotLive(current) from exc
            if expected_version is not None and current.version != expected_version:
                raise stale_version(session_id, current.version, expected_version) from exc
            raise _Unchanged(current) from exc
        return head_from(updated["Attributes"])
