"""The mind's memories in DynamoDB (the layout is in `aicore.mind.store`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError

from aicore import aws
from aicore.mind.models import Memory, MemorySet, heard_memory_id
from aicore.mind.store import (
    GENERAL_SK,
    MEMORY_PREFIX,
    STATE_SK,
    GeneralView,
    GossipLimits,
    MindState,
    PairView,
    gossip_sk,
    memory_sk,
    npc_pk,
    pair_pk,
    partition_of,
)
from aicore.observability import logger
from aicore.topology import MIND

EXPIRES_AT = str(MIND.ttl_attribute)
GOSSIP_COUNTER_TTL_S = 3 * 24 * 3600  # a day's counters outlive the day


def _memory_item(memory: Memory) -> dict[str, Any]:
    return {
        "pk": partition_of(memory.world_id, memory.npc_id, memory.about),
        "sk": memory_sk(memory.memory_id),
        **_memory_fields(memory),
    }


def _memory_fields(memory: Memory) -> dict[str, Any]:
    return memory.model_dump(exclude_none=True)


def _memory(item: dict[str, Any]) -> Memory:
    fields = {k: v for k, v in item.items() if k not in ("pk", "sk")}
    if isinstance(fields.get("vector"), Binary):
        fields["vector"] = fields["vector"].value
    return Memory.model_validate(fields)


def _state(item: dict[str, Any] | None) -> MindState:
    if item is None:
        return MindState()
    return MindState.model_validate({k: v for k, v in item.items() if k in MindState.model_fields})


def _cancelled(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] in (
        "TransactionCanceledException",
        "ConditionalCheckFailedException",
    )


class DynamoMindStore:
    def __init__(self, table_name: str) -> None:
        self._name = table_name
        self._table = aws.table(table_name)

    def _partition(self, pk: str, consistent: bool) -> list[dict[str, Any]]:
        return list(
            aws.query_items(self._table, KeyConditionExpression=Key("pk").eq(pk), ConsistentRead=consistent)
        )

    def turn_memories(self, world_id: str, npc_id: str, player_id: str) -> MemorySet:
        return self._pair(world_id, npc_id, player_id, consistent=False).memory_set()

    def read_pair(self, world_id: str, npc_id: str, player_id: str) -> PairView:
        return self._pair(world_id, npc_id, player_id, consistent=True)

    def _pair(self, world_id: str, npc_id: str, player_id: str, consistent: bool) -> PairView:
        view = PairView()
        for item in self._partition(pair_pk(world_id, npc_id, player_id), consistent):
            sk = item["sk"]
            if sk.startswith(MEMORY_PREFIX):
                view.memories.append(_memory(item))
            elif sk == GENERAL_SK:
                view.general = [_memory(m) for m in item.get("memories", [])]
                view.general_version = int(item["version"])
            elif sk == STATE_SK:
                view.state = _state(item)
        return view

    def read_general(self, world_id: str, npc_id: str) -> GeneralView:
        view = GeneralView()
        for item in self._partition(npc_pk(world_id, npc_id), consistent=True):
            if item["sk"].startswith(MEMORY_PREFIX):
                view.memories.append(_memory(item))
            elif item["sk"] == STATE_SK:
                view.state = _state(item)
        return view

    def general_version(self, world_id: str, npc_id: str) -> int:
        item = self._table.get_item(Key={"pk": npc_pk(world_id, npc_id), "sk": STATE_SK}).get("Item")
        return _state(item).general_version

    def add(self, memories: Sequence[Memory], importance: int) -> bool:
        if not memories:
            return False
        first = memories[0]
        pk = partition_of(first.world_id, first.npc_id, first.about)
        if any(partition_of(m.world_id, m.npc_id, m.about) != pk for m in memories):
            raise ValueError("memories added together must share one partition")
        state = (
            "ADD importance_since_reflection :imp SET reflections = if_not_exists(reflections, :zero)"
            if first.about is not None
            else "ADD general_version :one, importance_since_reflection :imp"
        )
        values: dict[str, Any] = {":imp": importance}
        values |= {":zero": 0} if first.about is not None else {":one": 1}
        items: list[dict[str, Any]] = [self._put_new(_memory_item(m)) for m in memories]
        items.append(self._update({"pk": pk, "sk": STATE_SK}, state, values))
        return self._transact(items, "Memories already written", pk=pk)

    def touch(self, world_id: str, npc_id: str, about: str | None, memory_ids: Sequence[str], at: str) -> int:
        pk, changed = partition_of(world_id, npc_id, about), 0
        for memory_id in dict.fromkeys(memory_ids):
            try:
                self._table.update_item(
                    Key={"pk": pk, "sk": memory_sk(memory_id)},
                    UpdateExpression="SET last_access = :at",
                    ConditionExpression="attribute_exists(pk) AND last_access < :at",
                    ExpressionAttributeValues={":at": at},
                )
                changed += 1
            except ClientError as exc:
                if not _cancelled(exc):
                    raise
        return changed

    def compact(
        self, world_id: str, npc_id: str, about: str | None, remove: Sequence[str], summary: Memory | None
    ) -> None:
        pk = partition_of(world_id, npc_id, about)
        items: list[dict[str, Any]] = [
            {"Delete": {"TableName": self._name, "Key": {"pk": pk, "sk": memory_sk(i)}}} for i in remove
        ]
        if summary is not None:
            items.append(self._put_new(_memory_item(summary)))
        if about is None:
            items.append(self._update({"pk": pk, "sk": STATE_SK}, "ADD general_version :one", {":one": 1}))
        self._transact(items, "Compaction already done", pk=pk)

    def copy_general(
        self, world_id: str, npc_id: str, player_id: str, general: Sequence[Memory], version: int
    ) -> None:
        try:
            self._table.put_item(
                Item={
                    "pk": pair_pk(world_id, npc_id, player_id),
                    "sk": GENERAL_SK,
                    "version": version,
                    "memories": [_memory_fields(m) for m in general],
                },
                ConditionExpression="attribute_not_exists(version) OR version < :v",
                ExpressionAttributeValues={":v": version},
            )
        except ClientError as exc:
            if not _cancelled(exc):
                raise

    def reflected(
        self, world_id: str, npc_id: str, player_id: str, insights: Sequence[Memory], reflection: int
    ) -> bool:
        pk = pair_pk(world_id, npc_id, player_id)
        items = [self._put_new(_memory_item(m)) for m in insights]
        items.append(
            self._update(
                {"pk": pk, "sk": STATE_SK},
                "SET reflections = :next, importance_since_reflection = :zero",
                {":next": reflection + 1, ":zero": 0, ":n": reflection},
                condition="reflections = :n",
            )
        )
        return self._transact(items, "Reflection already recorded", pk=pk)

    def gossip(self, heard: Memory, told: Memory, limits: GossipLimits) -> bool:
        listener = npc_pk(heard.world_id, heard.npc_id)
        expires = int(time.time()) + GOSSIP_COUNTER_TTL_S
        count = "ADD heard :one SET #exp = :exp"
        within = "attribute_not_exists(heard) OR heard < :limit"
        names = {"#exp": EXPIRES_AT}
        items = [
            self._put_new(_memory_item(heard)),
            self._update(
                {"pk": listener, "sk": gossip_sk(limits.day, told.npc_id)},
                count,
                {":one": 1, ":exp": expires, ":limit": limits.per_pair},
                condition=within,
                names=names,
            ),
            self._update(
                {"pk": listener, "sk": gossip_sk(limits.day)},
                count,
                {":one": 1, ":exp": expires, ":limit": limits.per_listener},
                condition=within,
                names=names,
            ),
            self._update(
                {"pk": partition_of(told.world_id, told.npc_id, told.about), "sk": memory_sk(told.memory_id)},
                "SET shared_with = list_append(if_not_exists(shared_with, :none), :to)",
                {":none": [], ":to": [heard.npc_id]},
                condition="attribute_exists(pk)",
            ),
        ]
        if heard.about is None:  # a general memory: the pairs' copies of the listener's are out of date
            items.append(
                self._update({"pk": listener, "sk": STATE_SK}, "ADD general_version :one", {":one": 1})
            )
        return self._transact(items, "Gossip already heard or over the day's limit", pk=listener)

    def revector(self, memory: Memory, old_embedder: str) -> bool:
        key = {
            "pk": partition_of(memory.world_id, memory.npc_id, memory.about),
            "sk": memory_sk(memory.memory_id),
        }
        try:
            self._table.update_item(
                Key=key,
                UpdateExpression="SET embedder = :new, vector = :v",
                ConditionExpression="embedder = :old",
                ExpressionAttributeValues={
                    ":new": memory.embedder,
                    ":v": memory.vector,
                    ":old": old_embedder,
                },
            )
        except ClientError as exc:
            if not _cancelled(exc):
                raise
            return False
        return True

    def get(self, world_id: str, npc_id: str, about: str | None, memory_id: str) -> Memory | None:
        key = {"pk": partition_of(world_id, npc_id, about), "sk": memory_sk(memory_id)}
        item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        return _memory(item) if item else None

    def forget(self, world_id: str, npc_id: str, about: str | None, memory_id: str) -> Memory | None:
        key = {"pk": partition_of(world_id, npc_id, about), "sk": memory_sk(memory_id)}
        old = self._table.delete_item(Key=key, ReturnValues="ALL_OLD").get("Attributes")
        if not old:
            return None
        forgotten = _memory(old)
        for listener in forgotten.shared_with:
            copy_key = {
                "pk": partition_of(world_id, listener, about),
                "sk": memory_sk(heard_memory_id(world_id, listener, memory_id)),
            }
            self._table.delete_item(Key=copy_key)
        return forgotten

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {"TableName": self._name, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}
        }

    def _update(
        self,
        key: dict[str, str],
        expression: str,
        values: dict[str, Any],
        condition: str | None = None,
        names: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        update: dict[str, Any] = {
            "TableName": self._name,
            "Key": key,
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
        }
        if condition:
            update["ConditionExpression"] = condition
        if names:
            update["ExpressionAttributeNames"] = names
        return {"Update": update}

    def _transact(self, items: list[dict[str, Any]], refused: str, pk: str) -> bool:
        try:
            aws.resource_client(self._table).transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            logger.info(refused, extra={"partition": pk})
            return False
        return True
