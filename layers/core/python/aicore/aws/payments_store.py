"""Purchases, entitlements and claimed provider events in the `identity` table (keyed by player).

PAYMENT_EVENT#<evt_id>   EVENT        claim (JSON: answer, events to publish), published, expires_at
PURCHASE#<payment id>    PURCHASE     status (active | refunded), player, entitlement, price, times
PLAYER#<player_id>       ENTITLEMENT#<payment id>   entitlement, purchase (while it is active)

Each change of a purchase and the claim of the event that caused it are one transaction, so an
event takes effect once however it is delivered. Claims expire after CLAIM_DAYS (the provider
retries for three days; an older replay is refused by its signature's timestamp anyway).
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from aicore import aws
from aicore.clock import stamp
from aicore.commerce.models import Claim, Purchase, PurchaseStatus
from aicore.commerce.store import EventAlreadyClaimed
from aicore.topology import IDENTITY
from aicore.world.store import performance_sk, world_pk

EXPIRES_AT = str(IDENTITY.ttl_attribute)
CLAIM_DAYS = 30
CONFLICT_RETRIES = 5


class DynamoPaymentsStore:
    def __init__(self, table_name: str) -> None:
        self._name = table_name
        self._table = aws.table(table_name)
        self._client = aws.resource_client(self._table)

    def claimed(self, event_id: str) -> Claim | None:
        found = self._table.get_item(Key=_claim_key(event_id), ConsistentRead=True).get("Item")
        if found is None:
            return None
        claim = Claim.model_validate_json(str(found["claim"]))
        return claim.model_copy(update={"pending": []}) if found.get("published") else claim

    def purchase(self, purchase_id: str) -> Purchase | None:
        found = self._table.get_item(Key=_purchase_key(purchase_id), ConsistentRead=True).get("Item")
        return None if found is None else Purchase.model_validate_json(str(found["purchase"]))

    def grant(self, claim: Claim, purchase: Purchase) -> bool:
        assert purchase.player_id is not None
        return self._transact(
            claim,
            {"Put": {**self._put_purchase(purchase), "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": self._name, "Item": _entitlement_item(purchase)}},
        )

    def revoke(self, claim: Claim, purchase: Purchase) -> bool:
        assert purchase.player_id is not None
        return self._transact(
            claim,
            {
                "Put": {
                    **self._put_purchase(purchase),
                    "ConditionExpression": "#status = :active",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {":active": PurchaseStatus.ACTIVE.value},
                }
            },
            {
                "Delete": {
                    "TableName": self._name,
                    "Key": _entitlement_key(purchase.player_id, purchase.purchase_id),
                }
            },
        )

    def record_refund_first(self, claim: Claim, purchase: Purchase) -> bool:
        return self._transact(
            claim,
            {"Put": {**self._put_purchase(purchase), "ConditionExpression": "attribute_not_exists(pk)"}},
        )

    def record_claim(self, claim: Claim) -> None:
        self._transact(claim)

    def mark_published(self, event_id: str) -> None:
        self._table.update_item(
            Key=_claim_key(event_id),
            UpdateExpression="SET published = :yes",
            ExpressionAttributeValues={":yes": True},
        )

    def active_purchases(self, player_id: str) -> list[Purchase]:
        items = aws.query_items(
            self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": _player_pk(player_id), ":prefix": "ENTITLEMENT#"},
            ConsistentRead=True,
        )
        return [Purchase.model_validate_json(str(item["purchase"])) for item in items]

    def holds(self, player_id: str, entitlement: str) -> bool:
        return any(p.entitlement == entitlement for p in self.active_purchases(player_id))

    def _put_purchase(self, purchase: Purchase) -> dict[str, Any]:
        item = {
            **_purchase_key(purchase.purchase_id),
            "status": purchase.status.value,
            "purchase": purchase.model_dump_json(),
        }
        if purchase.player_id is not None:
            item["player_id"] = purchase.player_id
        return {"TableName": self._name, "Item": item}

    def _transact(self, claim: Claim, *changes: dict[str, Any]) -> bool:
        """The claim and `changes` at once. EventAlreadyClaimed if the event was claimed before;
        False if a change's condition failed (nothing written)."""
        items = [{"Put": self._put_claim(claim)}, *changes]
        for attempt in range(CONFLICT_RETRIES):
            try:
                self._client.transact_write_items(TransactItems=items)
                return True
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise EventAlreadyClaimed(claim.event_id)
            if "ConditionalCheckFailed" in reasons[1:]:
                return False
            if attempt + 1 < CONFLICT_RETRIES:  # TransactionConflict: a concurrent delivery of the same
                time.sleep(random.uniform(0.02, 0.1) * (attempt + 1))  # event or purchase; try again
        if self.claimed(claim.event_id) is not None:
            raise EventAlreadyClaimed(claim.event_id)
        raise RuntimeError(f"payments: the write of {claim.event_id} kept conflicting; the provider retries")

    def _put_claim(self, claim: Claim) -> dict[str, Any]:
        return {
            "TableName": self._name,
            "Item": {
                **_claim_key(claim.event_id),
                "claim": claim.model_dump_json(),
                "published": not claim.pending,
                "claimed_at": stamp(claim.claimed_at),
                EXPIRES_AT: _epoch(claim.claimed_at + timedelta(days=CLAIM_DAYS)),
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }


class DynamoModeSettings:
    """Drops a player's own performance mode in a world (the world table; a conditional delete, no read)."""

    def __init__(self, table_name: str) -> None:
        self._table = aws.table(table_name)

    def drop_player_mode(self, world_id: str, player_id: str, mode: str) -> None:
        try:
            self._table.delete_item(
                Key={"pk": world_pk(world_id), "sk": performance_sk(player_id)},
                ConditionExpression="#mode = :mode",
                ExpressionAttributeNames={"#mode": "mode"},
                ExpressionAttributeValues={":mode": mode},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


def _claim_key(event_id: str) -> dict[str, str]:
    return {"pk": f"PAYMENT_EVENT#{event_id}", "sk": "EVENT"}


def _purchase_key(purchase_id: str) -> dict[str, str]:
    return {"pk": f"PURCHASE#{purchase_id}", "sk": "PURCHASE"}


def _player_pk(player_id: str) -> str:
    return f"PLAYER#{player_id}"


def _entitlement_key(player_id: str, purchase_id: str) -> dict[str, str]:
    return {"pk": _player_pk(player_id), "sk": f"ENTITLEMENT#{purchase_id}"}


def _entitlement_item(purchase: Purchase) -> dict[str, Any]:
    assert purchase.player_id is not None
    assert purchase.entitlement is not None
    return {
        **_entitlement_key(purchase.player_id, purchase.purchase_id),
        "entitlement": purchase.entitlement,
        "purchase": purchase.model_dump_json(),
    }


def _epoch(at: datetime) -> int:
    return int(at.timestamp())
