"""Turn budgets in DynamoDB: one item per player (`pk = BUDGET#<world>#<player>`, `sk = TURNS`) in
the connections table, one number attribute per bucket (the player's, and one per connection)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from aicore import aws
from aicore.platform.limits import Spend, SpendOutcome

SORT_KEY = "TURNS"


class DynamoBudgetStore:
    def __init__(self, table_name: str) -> None:
        self._table = aws.table(table_name)

    def spend(self, key: str, spends: Sequence[Spend], now_ms: int, expires_at: int) -> SpendOutcome:
        names = {"#exp": "expires_at"}
        values: dict[str, Any] = {":now": now_ms, ":exp": expires_at}
        sets, conditions = ["#exp = :exp"], []
        for i, spend in enumerate(spends):
            name = f"#b{i}"
            names[name] = spend.bucket
            if spend.idle:
                values[f":n{i}"] = now_ms + spend.interval_ms
                sets.append(f"{name} = :n{i}")
                conditions.append(f"(attribute_not_exists({name}) OR {name} <= :now)")
            else:
                values[f":i{i}"] = spend.interval_ms
                values[f":l{i}"] = now_ms + spend.tolerance_ms - spend.interval_ms
                sets.append(f"{name} = {name} + :i{i}")
                conditions.append(f"({name} > :now AND {name} <= :l{i})")
        try:
            answer = self._table.update_item(
                Key={"pk": key, "sk": SORT_KEY},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            stored = exc.response.get("Item") or {}
            return SpendOutcome(False, _tats(stored, spends))
        return SpendOutcome(True, _tats(answer.get("Attributes") or {}, spends))


def _tats(item: dict[str, Any], spends: Sequence[Spend]) -> dict[str, int]:
    return {s.bucket: _number(item[s.bucket]) for s in spends if s.bucket in item}


def _number(value: Any) -> int:
    """A number as the item carries it: a Decimal (resource answers) or `{"N": "..."}` (errors)."""
    if isinstance(value, dict):
        return int(value["N"])
    if isinstance(value, Decimal | int):
        return int(value)
    raise TypeError(f"a budget is a number, not {type(value).__name__}")
