"""A world's pushed content and live state in the world table (the layout is in
`aicore.world.keys`): one partition per world, so one Query reads its whole state."""

from __future__ import annotations

import time
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from aicore import aws
from aicore.topology import WORLD
from aicore.world.arcs import ArcProgress
from aicore.world.clock import ClockState
from aicore.world.content import QuestTemplateSpec
from aicore.world.definition import WorldDefinition
from aicore.world.events import OutboxEntry
from aicore.world.facts import FactWrite, WriteOutcome
from aicore.world.keys import (
    ARC_PREFIX,
    CLOCK_SK,
    CONTENT_SK,
    DEFINITION_SK,
    FACT_PREFIX,
    OUTBOX_PREFIX,
    QUEST_TEMPLATE_PREFIX,
    STATE_PREFIX,
    VERSION_SK,
    WEATHER_PREFIX,
    WORLDS_PK,
    arc_sk,
    fact_log_sk,
    fact_request_sk,
    fact_sk,
    lore_sk,
    narration_sk,
    npc_sk,
    outbox_sk,
    quest_template_sk,
    registry_sk,
    weather_sk,
)
from aicore.world.narration import CachedNarration
from aicore.world.push import ContentManifest
from aicore.world.state import Fact, StoredState, WeatherRecord
from aicore.world.store import world_pk

EXPIRES_AT = str(WORLD.ttl_attribute)
REQUEST_MARKER_TTL_S = 7 * 24 * 3600  # far longer than EventBridge keeps retrying an event


class DynamoWorldState:
    def __init__(self, table_name: str) -> None:
        self._name = table_name
        self._table = aws.table(table_name)

    # --- content -------------------------------------------------------------------------------

    def manifest(self, world_id: str) -> ContentManifest | None:
        item = self._table.get_item(
            Key={"pk": world_pk(world_id), "sk": CONTENT_SK}, ConsistentRead=True
        ).get("Item")
        return ContentManifest.model_validate_json(str(item["body"])) if item else None

    def put_definition(self, definition: WorldDefinition) -> None:
        self._table.put_item(
            Item={
                "pk": world_pk(definition.world_id),
                "sk": DEFINITION_SK,
                "body": definition.model_dump_json(),
            }
        )

    def definition(self, world_id: str) -> WorldDefinition | None:
        item = self._table.get_item(Key={"pk": world_pk(world_id), "sk": DEFINITION_SK}).get("Item")
        return WorldDefinition.model_validate_json(str(item["body"])) if item else None

    def delete_npc(self, world_id: str, npc_id: str) -> None:
        self._table.delete_item(Key={"pk": world_pk(world_id), "sk": npc_sk(npc_id)})

    def delete_lore(self, world_id: str, fact_id: str) -> None:
        self._table.delete_item(Key={"pk": world_pk(world_id), "sk": lore_sk(fact_id)})

    def put_quest_template(self, world_id: str, template: QuestTemplateSpec) -> None:
        self._table.put_item(
            Item={
                "pk": world_pk(world_id),
                "sk": quest_template_sk(template.template_id),
                "body": template.model_dump_json(),
            }
        )

    def delete_quest_template(self, world_id: str, template_id: str) -> None:
        self._table.delete_item(Key={"pk": world_pk(world_id), "sk": quest_template_sk(template_id)})

    def quest_templates(self, world_id: str) -> list[QuestTemplateSpec]:
        """Every quest template of the world (a world has at most a few hundred: one Query)."""
        condition = Key("pk").eq(world_pk(world_id)) & Key("sk").begins_with(QUEST_TEMPLATE_PREFIX)
        items = aws.query_items(self._table, KeyConditionExpression=condition)
        return [QuestTemplateSpec.model_validate_json(str(item["body"])) for item in items]

    def record_push(self, manifest: ContentManifest, expected_version: int) -> bool:
        condition, values = _at_version(expected_version)
        content = {
            "pk": world_pk(manifest.world_id),
            "sk": CONTENT_SK,
            "version": manifest.version,
            "body": manifest.model_dump_json(),
        }
        listed = {"pk": WORLDS_PK, "sk": registry_sk(manifest.world_id), "world_id": manifest.world_id}
        writes = [_put(self._name, content, condition, values), _put(self._name, listed)]
        return aws.transact(self._table, writes)

    # --- clock ---------------------------------------------------------------------------------

    def clock(self, world_id: str) -> ClockState | None:
        item = self._table.get_item(Key={"pk": world_pk(world_id), "sk": CLOCK_SK}, ConsistentRead=True).get(
            "Item"
        )
        return ClockState.model_validate_json(str(item["body"])) if item else None

    def put_clock(self, world_id: str, clock: ClockState, expected_version: int) -> bool:
        condition, values = _at_version(expected_version)
        item = {
            "pk": world_pk(world_id),
            "sk": CLOCK_SK,
            "version": clock.version,
            "body": clock.model_dump_json(),
        }
        try:
            aws.resource_client(self._table).transact_write_items(
                TransactItems=[_put(self._name, item, condition, values), self._next_state_version(world_id)]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                return False
            raise
        return True

    def _next_state_version(self, world_id: str) -> dict[str, Any]:
        """The world's state version, +1, in the same transaction as the change it counts."""
        return {
            "Update": {
                "TableName": self._name,
                "Key": {"pk": world_pk(world_id), "sk": VERSION_SK},
                "UpdateExpression": "ADD version :one",
                "ExpressionAttributeValues": {":one": 1},
            }
        }

    # --- state -------------------------------------------------------------------------------

    def state(self, world_id: str) -> StoredState:
        condition = Key("pk").eq(world_pk(world_id)) & Key("sk").begins_with(STATE_PREFIX)
        stored = StoredState(definition=None)
        for item in aws.query_items(self._table, KeyConditionExpression=condition, ConsistentRead=True):
            sk = str(item["sk"])
            if sk == DEFINITION_SK:
                stored.definition = WorldDefinition.model_validate_json(str(item["body"]))
            elif sk == CLOCK_SK:
                stored.clock = ClockState.model_validate_json(str(item["body"]))
            elif sk == VERSION_SK:
                stored.version = int(str(item["version"]))
            elif sk.startswith(FACT_PREFIX):
                fact = Fact.model_validate_json(str(item["body"]))
                stored.facts[fact.key] = fact
            elif sk.startswith(WEATHER_PREFIX):
                record = WeatherRecord.model_validate_json(str(item["body"]))
                stored.weather[record.region] = record
            elif sk.startswith(ARC_PREFIX):
                progress = ArcProgress.model_validate_json(str(item["body"]))
                stored.arcs[progress.arc_id] = progress
        return stored

    def record_weather(
        self, world_id: str, record: WeatherRecord, expected_hour: int | None, entry: OutboxEntry | None
    ) -> bool:
        item = {
            "pk": world_pk(world_id),
            "sk": weather_sk(record.region),
            "game_hour": record.hour,  # (`hour` is one of DynamoDB's reserved words)
            "body": record.model_dump_json(),
        }
        if expected_hour is None:
            writes = [_put(self._name, item, "attribute_not_exists(pk)")]
        else:
            writes = [_put(self._name, item, "game_hour = :h", {":h": expected_hour})]
        if entry is not None:
            writes += [self._outbox_put(world_id, entry), self._next_state_version(world_id)]
        return aws.transact(self._table, writes)

    # --- facts ---------------------------------------------------------------------------------

    def fact(self, world_id: str, key: str) -> Fact | None:
        item = self._table.get_item(
            Key={"pk": world_pk(world_id), "sk": fact_sk(key)}, ConsistentRead=True
        ).get("Item")
        return Fact.model_validate_json(str(item["body"])) if item else None

    def fact_at(self, world_id: str, key: str, version: int) -> Fact | None:
        item = self._table.get_item(Key={"pk": world_pk(world_id), "sk": fact_log_sk(key, version)}).get(
            "Item"
        )
        return Fact.model_validate_json(str(item["body"])) if item else None

    def put_fact(
        self, world_id: str, fact: Fact, expected_version: int, entry: OutboxEntry, request_id: str | None
    ) -> FactWrite:
        pk, body = world_pk(world_id), fact.model_dump_json()
        condition, values = _at_version(expected_version)
        current = _put(
            self._name,
            {"pk": pk, "sk": fact_sk(fact.key), "version": fact.version, "body": body},
            condition,
            values,
        )
        current["Put"]["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"  # the version it is at
        history = {"pk": pk, "sk": fact_log_sk(fact.key, fact.version), "body": body}
        writes = [
            current,
            _put(self._name, history, "attribute_not_exists(pk)"),
            self._outbox_put(world_id, entry),
            self._next_state_version(world_id),
        ]
        if request_id is not None:
            marker = {
                "pk": pk,
                "sk": fact_request_sk(request_id),
                EXPIRES_AT: int(time.time()) + REQUEST_MARKER_TTL_S,
            }
            writes.append(_put(self._name, marker, "attribute_not_exists(pk)"))
        try:
            aws.resource_client(self._table).transact_write_items(TransactItems=writes)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            return _refused(exc.response.get("CancellationReasons") or [], request_id is not None)
        return FactWrite(WriteOutcome.WRITTEN)

    # --- story arcs -----------------------------------------------------------------------------

    def advance_arc(
        self, world_id: str, progress: ArcProgress, expected_version: int, entry: OutboxEntry
    ) -> bool:
        return aws.transact(
            self._table,
            [self._arc_put(world_id, progress, expected_version), self._outbox_put(world_id, entry)],
        )

    def settle_arc(self, world_id: str, progress: ArcProgress, expected_version: int) -> bool:
        put = self._arc_put(world_id, progress, expected_version)["Put"]
        del put["TableName"]
        try:
            self._table.put_item(**put)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _arc_put(self, world_id: str, progress: ArcProgress, expected_version: int) -> dict[str, Any]:
        condition, values = _at_version(expected_version)
        item = {
            "pk": world_pk(world_id),
            "sk": arc_sk(progress.arc_id),
            "version": progress.version,
            "body": progress.model_dump_json(),
        }
        return _put(self._name, item, condition, values)

    # --- narration -----------------------------------------------------------------------------

    def narration(self, world_id: str, region_id: str) -> CachedNarration | None:
        item = self._table.get_item(Key={"pk": world_pk(world_id), "sk": narration_sk(region_id)}).get("Item")
        return CachedNarration.model_validate_json(str(item["body"])) if item else None

    def put_narration(self, world_id: str, region_id: str, narration: CachedNarration) -> None:
        self._table.put_item(
            Item={
                "pk": world_pk(world_id),
                "sk": narration_sk(region_id),
                "body": narration.model_dump_json(),
            }
        )

    # --- outbox --------------------------------------------------------------------------------

    def outbox(self, world_id: str) -> list[OutboxEntry]:
        condition = Key("pk").eq(world_pk(world_id)) & Key("sk").begins_with(OUTBOX_PREFIX)
        entries = [
            OutboxEntry.model_validate_json(str(i["body"]))
            for i in aws.query_items(self._table, KeyConditionExpression=condition)
        ]
        return sorted(entries, key=lambda e: e.written_at)

    def clear_outbox(self, world_id: str, event_id: str) -> None:
        self._table.delete_item(Key={"pk": world_pk(world_id), "sk": outbox_sk(event_id)})

    def _outbox_put(self, world_id: str, entry: OutboxEntry) -> dict[str, Any]:
        item = {"pk": world_pk(world_id), "sk": outbox_sk(entry.event_id), "body": entry.model_dump_json()}
        return _put(self._name, item, "attribute_not_exists(pk)")

    def worlds(self) -> list[str]:
        """Every world pushed to this environment."""
        items = aws.query_items(self._table, KeyConditionExpression=Key("pk").eq(WORLDS_PK))
        return [str(i["world_id"]) for i in items]


def _refused(reasons: list[dict[str, Any]], marked: bool) -> FactWrite:
    """Why a fact's transaction was cancelled, from its reasons (one per item, in order)."""
    codes = [r.get("Code") for r in reasons]
    if marked and len(codes) > 4 and codes[4] == "ConditionalCheckFailed":
        return FactWrite(WriteOutcome.DUPLICATE)
    if codes and codes[0] == "ConditionalCheckFailed":
        return FactWrite(WriteOutcome.STALE, _number((reasons[0].get("Item") or {}).get("version")))
    if "TransactionConflict" in codes:
        return FactWrite(WriteOutcome.CONTENDED)
    raise RuntimeError(f"a fact's transaction was cancelled: {codes}")


def _number(value: Any) -> int:
    """A number from an item as the error carries it: plain, or in DynamoDB's `{"N": "3"}` form."""
    if value is None:
        return 0
    if isinstance(value, dict):
        return int(value["N"])
    return int(value)


def _put(
    table: str, item: dict[str, Any], condition: str | None = None, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    put: dict[str, Any] = {"TableName": table, "Item": item}
    if condition:
        put["ConditionExpression"] = condition
    if values:
        put["ExpressionAttributeValues"] = values
    return {"Put": put}


def _at_version(version: int) -> tuple[str, dict[str, Any]]:
    if version == 0:
        return "attribute_not_exists(pk)", {}
    return "version = :v", {":v": version}
