"""Identity in DynamoDB (the `identity` table): links, refresh tokens (hashed) and their families.

LINK#<kind:hash>        LINK      player_id                      a device or an issuer's account
REFRESH#<sha256>        REFRESH   family, player, world, roles, state, expires_at (TTL)
FAMILY#<id>             FAMILY    player_id, expires_at (TTL, moved on each refresh), revoked_at
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from aicore import aws
from aicore.auth import Role
from aicore.clock import stamp
from aicore.identity.store import RefreshRecord, RefreshState, Rotation
from aicore.topology import IDENTITY

EXPIRES_AT = str(IDENTITY.ttl_attribute)


class DynamoIdentityStore:
    def __init__(self, table_name: str) -> None:
        self._name = table_name
        self._table = aws.table(table_name)
        self._client = aws.resource_client(self._table)

    def link(self, link_key: str, player_id: str, at: datetime) -> str:
        key = {"pk": f"LINK#{link_key}", "sk": "LINK"}
        try:
            self._table.put_item(
                Item={**key, "player_id": player_id, "created_at": stamp(at)},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            found = self._table.get_item(Key=key, ConsistentRead=True)["Item"]
            return str(found["player_id"])
        return player_id

    def refresh_record(self, token_hash: str) -> RefreshRecord | None:
        found = self._table.get_item(Key=_refresh_key(token_hash), ConsistentRead=True).get("Item")
        if found is None:
            return None
        return RefreshRecord(
            token_hash=token_hash,
            family_id=str(found["family_id"]),
            player_id=str(found["player_id"]),
            world_id=str(found["world_id"]),
            roles=tuple(Role(str(r)) for r in found["roles"]),  # type: ignore[union-attr]
            state=RefreshState(str(found["state"])),
            issued_at=datetime.fromisoformat(str(found["issued_at"])),
            expires_at=datetime.fromtimestamp(int(str(found[EXPIRES_AT])), UTC),
        )

    def start_family(self, first: RefreshRecord, at: datetime) -> None:
        self._client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._name,
                        "Item": {
                            **_family_key(first.family_id),
                            "player_id": first.player_id,
                            "created_at": stamp(at),
                            EXPIRES_AT: _epoch(first.expires_at),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                _put_refresh(self._name, first),
            ]
        )

    def rotate(self, old: RefreshRecord, new: RefreshRecord, at: datetime) -> Rotation:
        retire_old = {
            "Update": {
                "TableName": self._name,
                "Key": _refresh_key(old.token_hash),
                "UpdateExpression": "SET #state = :rotated, rotated_at = :at",
                "ConditionExpression": "#state = :active",
                "ExpressionAttributeNames": {"#state": "state"},
                "ExpressionAttributeValues": {
                    ":rotated": RefreshState.ROTATED.value,
                    ":active": RefreshState.ACTIVE.value,
                    ":at": stamp(at),
                },
            }
        }
        extend_family = {
            "Update": {
                "TableName": self._name,
                "Key": _family_key(old.family_id),
                "UpdateExpression": "SET #expires = :expires",
                "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(revoked_at)",
                "ExpressionAttributeNames": {"#expires": EXPIRES_AT},
                "ExpressionAttributeValues": {":expires": _epoch(new.expires_at)},
            }
        }
        try:
            self._client.transact_write_items(
                TransactItems=[retire_old, _put_refresh(self._name, new), extend_family]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                self.revoke_family(old.family_id, at)
                return Rotation.REUSED
            if len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
                return Rotation.REVOKED
            raise
        return Rotation.ROTATED

    def revoke_family(self, family_id: str, at: datetime) -> None:
        try:
            self._table.update_item(
                Key=_family_key(family_id),
                UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :at)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":at": stamp(at)},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


def _refresh_key(token_hash: str) -> dict[str, str]:
    return {"pk": f"REFRESH#{token_hash}", "sk": "REFRESH"}


def _family_key(family_id: str) -> dict[str, str]:
    return {"pk": f"FAMILY#{family_id}", "sk": "FAMILY"}


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _put_refresh(table: str, record: RefreshRecord) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table,
            "Item": {
                **_refresh_key(record.token_hash),
                "family_id": record.family_id,
                "player_id": record.player_id,
                "world_id": record.world_id,
                "roles": list(record.roles),
                "state": record.state.value,
                "issued_at": stamp(record.issued_at),
                EXPIRES_AT: _epoch(record.expires_at),
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
