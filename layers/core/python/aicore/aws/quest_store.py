"""Quests in the world table (layout in `aicore.quests.store`): each write conditional on the
quest's version; an offer and its pointer, an accept and the pointer's removal, one transaction."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from aicore import aws
from aicore.quests.models import Quest, QuestOffer, QuestState
from aicore.quests.store import offer_sk, player_quests_prefix, quest_sk
from aicore.world.store import world_pk


class DynamoQuestStore:
    def __init__(self, table_name: str) -> None:
        self._name = table_name
        self._table = aws.table(table_name)

    def quest(self, world_id: str, player_id: str, quest_id: str) -> Quest | None:
        item = self._table.get_item(
            Key={"pk": world_pk(world_id), "sk": quest_sk(player_id, quest_id)}, ConsistentRead=True
        ).get("Item")
        return _quest(item) if item else None

    def player_quests(self, world_id: str, player_id: str) -> list[Quest]:
        condition = Key("pk").eq(world_pk(world_id)) & Key("sk").begins_with(player_quests_prefix(player_id))
        return [
            _quest(i)
            for i in aws.query_items(self._table, KeyConditionExpression=condition, ConsistentRead=True)
        ]

    def offered(self, world_id: str, npc_id: str, player_id: str) -> QuestOffer | None:
        item = self._table.get_item(
            Key={"pk": world_pk(world_id), "sk": offer_sk(npc_id, player_id)}, ConsistentRead=True
        ).get("Item")
        return offer_of(item) if item else None

    def put_offer(self, quest: Quest) -> bool:
        pk = world_pk(quest.world_id)
        offer = quest.offer()
        pointer = {
            "pk": pk,
            "sk": offer_sk(quest.npc_id, quest.player_id),
            "quest_id": quest.quest_id,
            "offer": offer.model_dump_json(),
            "hook": offer.hook,
        }
        return aws.transact(
            self._table,
            [
                self._put(_item(quest), "attribute_not_exists(pk)", {}),
                self._put(pointer, "attribute_not_exists(pk)", {}),
            ],
        )

    def save(self, quest: Quest, expected_version: int, clear_offer: bool = False) -> bool:
        writes = [self._put(_item(quest), "version = :expected", {":expected": expected_version})]
        if clear_offer:
            writes.append(
                {
                    "Delete": {
                        "TableName": self._name,
                        "Key": {
                            "pk": world_pk(quest.world_id),
                            "sk": offer_sk(quest.npc_id, quest.player_id),
                        },
                        "ConditionExpression": "attribute_not_exists(pk) OR quest_id = :quest",
                        "ExpressionAttributeValues": {":quest": quest.quest_id},
                    }
                }
            )
        return aws.transact(self._table, writes)

    def set_token(self, world_id: str, player_id: str, quest_id: str, token: str) -> Quest | None:
        try:
            updated = self._table.update_item(
                Key={"pk": world_pk(world_id), "sk": quest_sk(player_id, quest_id)},
                UpdateExpression="SET task_token = :token, version = version + :one",
                ConditionExpression="#state = :accepted",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":token": token,
                    ":one": 1,
                    ":accepted": QuestState.ACCEPTED.value,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return None
        return _quest(updated["Attributes"])

    def _put(self, item: dict[str, Any], condition: str, values: dict[str, Any]) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self._name, "Item": item, "ConditionExpression": condition}
        if values:
            put["ExpressionAttributeValues"] = values
        return {"Put": put}


def _item(quest: Quest) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": world_pk(quest.world_id),
        "sk": quest_sk(quest.player_id, quest.quest_id),
        "body": quest.model_dump_json(),
        "state": quest.state.value,
        "version": quest.version,
    }
    if quest.task_token is not None:
        item["task_token"] = quest.task_token
    return item


def _quest(item: dict[str, Any]) -> Quest:
    return Quest.model_validate_json(str(item["body"])).model_copy(
        update={
            "state": QuestState(str(item["state"])),
            "version": int(item["version"]),
            "task_token": str(item["task_token"]) if item.get("task_token") else None,
        }
    )


def offer_of(item: dict[str, Any]) -> QuestOffer:
    """The offer pointer as stored (the turn reads it in its batch too)."""
    return QuestOffer.model_validate_json(str(item["offer"])).model_copy(
        update={"hook": str(item.get("hook", ""))}
    )
