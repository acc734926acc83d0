"""Resume tokens in the connections table: `pk = RESUME#<sha256 of the token>`, `sk = TOKEN` (TTL)."""

from __future__ import annotations

from aicore import aws
from aicore.protocol import ResumeGrant

SORT_KEY = "TOKEN"


class DynamoResumeTokens:
    def __init__(self, table_name: str) -> None:
        self._table = aws.table(table_name)

    def put(self, token_hash: str, grant: ResumeGrant) -> None:
        self._table.put_item(Item={"pk": f"RESUME#{token_hash}", "sk": SORT_KEY, **grant.model_dump()})

    def get(self, token_hash: str) -> ResumeGrant | None:
        item = self._table.get_item(Key={"pk": f"RESUME#{token_hash}", "sk": SORT_KEY}).get("Item")
        if item is None:
            return None
        return ResumeGrant(
            subject=str(item["subject"]),
            world_id=str(item["world_id"]),
            expires_at=int(str(item["expires_at"])),
        )
