"""World content in DynamoDB (the layout is in `aicore.world.store`)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, TypeVar

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from pydantic import BaseModel

from aicore import aws
from aicore.aws.quest_store import offer_of
from aicore.knowledge.models import IndexPointer
from aicore.knowledge.store import pointer_keys
from aicore.language.proficiency import Proficiency
from aicore.mind.emotions import EmotionState
from aicore.mind.relationship import Relationship
from aicore.observability import logger
from aicore.performance import PerformanceMode, PerformanceSettings
from aicore.quests.store import offer_sk
from aicore.topology import WORLD
from aicore.world.models import LoreFact, Npc, NpcMemory, PerformanceSetting, TurnContext
from aicore.world.store import (
    Feeling,
    emotion_sk,
    felt_marker_sk,
    heard_marker_sk,
    memory_sk,
    performance_sk,
    proficiency_sk,
    relationship_sk,
    turn_marker_sk,
    world_pk,
)

EXPIRES_AT = str(WORLD.ttl_attribute)
M = TypeVar("M", bound=BaseModel)
TURN_MARKER_TTL_S = 7 * 24 * 3600  # far longer than EventBridge keeps retrying an event
HEARD = "heard:"  # a proficiency item's counter per language: `heard:<language id>` (top level, so ADD works)


class DynamoWorldStore:
    def __init__(self, table_name: str) -> None:
        self._name = table_name
        self._table = aws.table(table_name)

    def npc_and_memory(
        self, world_id: str, npc_id: str, player_id: str
    ) -> tuple[Npc | None, NpcMemory | None]:
        """Both in one round trip."""
        keys = [
            {"pk": world_pk(world_id), "sk": f"NPC#{npc_id}"},
            {"pk": world_pk(world_id), "sk": memory_sk(npc_id, player_id)},
        ]
        found = aws.resource_client(self._table).batch_get_item(RequestItems={self._name: {"Keys": keys}})
        items = {i["sk"]: i for i in self._unprocessed_retry(found)}
        npc_item, memory_item = items.get(keys[0]["sk"]), items.get(keys[1]["sk"])
        return (
            Npc.model_validate(npc_item) if npc_item else None,
            NpcMemory.model_validate(memory_item) if memory_item else None,
        )

    def turn_context(self, world_id: str, npc_id: str, player_id: str) -> TurnContext:
        """The NPC, its memory of and relationship with the player, its emotion, the player's
        performance mode and the knowledge index pointers of the world and the global corpus, in
        one round trip."""
        relationship, emotion = relationship_sk(npc_id, player_id), emotion_sk(npc_id)
        pk = world_pk(world_id)
        world_keys = [
            f"NPC#{npc_id}",
            memory_sk(npc_id, player_id),
            performance_sk(player_id),
            relationship,
            emotion,
            proficiency_sk(player_id),
            offer_sk(npc_id, player_id),
        ]
        found = self._batch_get([{"pk": pk, "sk": sk} for sk in world_keys] + pointer_keys(world_id))
        items = {sk: item for (item_pk, sk), item in found.items() if item_pk == pk}
        pointers = {key["pk"]: found.get((key["pk"], key["sk"])) for key in pointer_keys(world_id)}
        npc_item, memory_item = items.get(f"NPC#{npc_id}"), items.get(memory_sk(npc_id, player_id))
        return TurnContext(
            npc=Npc.model_validate(npc_item) if npc_item else None,
            memory=NpcMemory.model_validate(memory_item) if memory_item else None,
            performance=_performance(items, player_id),
            relationship=_model(Relationship, items.get(relationship)),
            emotion=_model(EmotionState, items.get(emotion)),
            knowledge=tuple(p for item in pointers.values() if (p := _model(IndexPointer, item)) is not None),
            proficiency=_proficiency(items.get(proficiency_sk(player_id))),
            quest_offer=offer_of(offer) if (offer := items.get(offer_sk(npc_id, player_id))) else None,
        )

    def hear(self, world_id: str, player_id: str, heard: dict[str, int], turn_id: str) -> bool:
        """One transaction: the turn's marker (a redelivery finds it and adds nothing) and an atomic
        ADD to each language's counter on the player's proficiency item."""
        pk = world_pk(world_id)
        marker = {
            "pk": pk,
            "sk": heard_marker_sk(player_id, turn_id),
            EXPIRES_AT: int(time.time()) + TURN_MARKER_TTL_S,
        }
        names = {f"#h{i}": f"{HEARD}{language}" for i, language in enumerate(sorted(heard))}
        values: dict[str, Any] = {f":h{i}": heard[language] for i, language in enumerate(sorted(heard))}
        add = ", ".join(f"#h{i} :h{i}" for i in range(len(heard)))
        count = {
            "TableName": self._name,
            "Key": {"pk": pk, "sk": proficiency_sk(player_id)},
            "UpdateExpression": f"ADD {add} SET world_id = :w, player_id = :p",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {**values, ":w": world_id, ":p": player_id},
        }
        try:
            aws.resource_client(self._table).transact_write_items(
                TransactItems=[self._put(marker, "attribute_not_exists(pk)", {}), {"Update": count}]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            logger.info(
                "Phrases of the turn already heard", extra={"player_id": player_id, "turn_id": turn_id}
            )
            return False
        return True

    def relationship(self, world_id: str, npc_id: str, player_id: str) -> Relationship | None:
        key = {"pk": world_pk(world_id), "sk": relationship_sk(npc_id, player_id)}
        return _model(Relationship, self._table.get_item(Key=key).get("Item"))

    def feel(
        self, relationship: Relationship, emotion: EmotionState, turn_id: str, expected: tuple[int, int]
    ) -> Feeling:
        """One transaction: the turn's marker (so a redelivery changes nothing), the relationship and
        the emotion, each only if nobody changed it since it was read (`expected` versions)."""
        pk = world_pk(relationship.world_id)
        marker = {
            "pk": pk,
            "sk": felt_marker_sk(relationship.npc_id, relationship.player_id, turn_id),
            EXPIRES_AT: int(time.time()) + TURN_MARKER_TTL_S,
        }
        relationship_item = {
            "pk": pk,
            "sk": relationship_sk(relationship.npc_id, relationship.player_id),
            **_stored(relationship.model_dump(mode="json", exclude_none=True)),
        }
        emotion_item = {
            "pk": pk,
            "sk": emotion_sk(emotion.npc_id),
            **_stored(emotion.model_dump(mode="json")),
        }
        try:
            aws.resource_client(self._table).transact_write_items(
                TransactItems=[
                    self._put(marker, "attribute_not_exists(pk)", {}),
                    self._put(relationship_item, *_at_version(expected[0])),
                    self._put(emotion_item, *_at_version(expected[1])),
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return Feeling.ALREADY
            return Feeling.CONFLICT
        return Feeling.FELT

    def _put(self, item: dict[str, Any], condition: str, values: dict[str, Any]) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self._name, "Item": item, "ConditionExpression": condition}
        if values:
            put["ExpressionAttributeValues"] = values
        return {"Put": put}

    def performance(self, world_id: str, player_id: str) -> PerformanceSettings:
        items = self._get_many(world_id, [performance_sk(player_id)])
        return _performance(items, player_id)

    def set_performance_mode(self, setting: PerformanceSetting) -> None:
        self._table.put_item(
            Item={
                "pk": world_pk(setting.world_id),
                "sk": performance_sk(setting.player_id),
                **setting.model_dump(exclude_none=True),
            }
        )

    def _get_many(self, world_id: str, sort_keys: list[str]) -> dict[str, dict[str, Any]]:
        found = self._batch_get([{"pk": world_pk(world_id), "sk": sk} for sk in sort_keys])
        return {sk: item for (_, sk), item in found.items()}

    def _batch_get(self, keys: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Items by (pk, sk): one BatchGetItem (more only for keys DynamoDB left unprocessed)."""
        found = aws.resource_client(self._table).batch_get_item(RequestItems={self._name: {"Keys": keys}})
        return {(i["pk"], i["sk"]): i for i in self._unprocessed_retry(found)}

    def _unprocessed_retry(self, response: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = list(response["Responses"].get(self._name, []))
        while response.get("UnprocessedKeys"):
            response = aws.resource_client(self._table).batch_get_item(
                RequestItems=response["UnprocessedKeys"]
            )
            items += response["Responses"].get(self._name, [])
        return items

    def list_npcs(self, world_id: str) -> list[Npc]:
        return [Npc.model_validate(i) for i in self._query(world_id, "NPC#")]

    def lore(self, world_id: str) -> list[LoreFact]:
        return [LoreFact.model_validate(i) for i in self._query(world_id, "LORE#")]

    def remember(
        self, world_id: str, npc_id: str, player_id: str, line: str, at: str, turn_id: str
    ) -> NpcMemory:
        """Count one turn, once: a marker of the turn is written in the same transaction, so a
        redelivered event finds it and changes nothing (DynamoDB's TTL removes markers later)."""
        key = {"pk": world_pk(world_id), "sk": memory_sk(npc_id, player_id)}
        marker = {
            "pk": world_pk(world_id),
            "sk": turn_marker_sk(npc_id, player_id, turn_id),
            EXPIRES_AT: int(time.time()) + TURN_MARKER_TTL_S,
        }
        count = {
            "TableName": self._name,
            "Key": key,
            "UpdateExpression": "ADD turns :one SET world_id = :w, npc_id = :n, player_id = :p, "
            "last_player_line = :line, last_seen = :at",
            "ExpressionAttributeValues": {
                ":one": 1,
                ":w": world_id,
                ":n": npc_id,
                ":p": player_id,
                ":line": line,
                ":at": at,
            },
        }
        try:
            aws.resource_client(self._table).transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._name,
                            "Item": marker,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Update": count},
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            logger.info("Turn already remembered", extra={"npc_id": npc_id, "turn_id": turn_id})
        item = self._table.get_item(Key=key, ConsistentRead=True)["Item"]
        return NpcMemory.model_validate(item)

    def put_npc(self, npc: Npc) -> None:
        self._table.put_item(
            Item={
                "pk": world_pk(npc.world_id),
                "sk": f"NPC#{npc.npc_id}",
                **_stored(npc.model_dump(mode="json", exclude_none=True)),  # a temperament holds floats
            }
        )

    def put_lore(self, fact: LoreFact) -> None:
        self._table.put_item(
            Item={"pk": world_pk(fact.world_id), "sk": f"LORE#{fact.fact_id}", **fact.model_dump()}
        )

    def _query(self, world_id: str, prefix: str) -> list[dict[str, Any]]:
        condition = Key("pk").eq(world_pk(world_id)) & Key("sk").begins_with(prefix)
        return list(aws.query_items(self._table, KeyConditionExpression=condition))


def _proficiency(item: dict[str, Any] | None) -> Proficiency | None:
    if item is None:
        return None
    heard = {key[len(HEARD) :]: int(value) for key, value in item.items() if key.startswith(HEARD)}
    return Proficiency(world_id=item["world_id"], player_id=item["player_id"], heard=heard)


def _model(model: type[M], item: dict[str, Any] | None) -> M | None:
    return model.model_validate({k: v for k, v in item.items() if k not in ("pk", "sk")}) if item else None


def _stored(value: Any) -> Any:
    """JSON-shaped data as DynamoDB takes it: floats as Decimals."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stored(v) for v in value]
    return value


def _at_version(version: int) -> tuple[str, dict[str, Any]]:
    if version == 0:
        return "attribute_not_exists(pk)", {}
    return "version = :v", {":v": version}


def _performance(items: dict[str, dict[str, Any]], player_id: str) -> PerformanceSettings:
    """The player's own mode (the world's is a setting: `aicore.platform.settings`)."""
    player_item = items.get(performance_sk(player_id))
    return PerformanceSettings(
        player_mode=PerformanceMode(player_item["mode"]) if player_item else None,
    )
