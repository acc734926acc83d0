"""In-memory stand-ins for the protocol v2 stores (resume tokens, claims of request ids)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aicore.npc.requests import RequestRecord
from aicore.protocol import ResumeGrant


@dataclass
class FakeResumeTokens:
    grants: dict[str, ResumeGrant] = field(default_factory=dict)  # by the token's hash, as the table

    def put(self, token_hash: str, grant: ResumeGrant) -> None:
        self.grants[token_hash] = grant

    def get(self, token_hash: str) -> ResumeGrant | None:
        return self.grants.get(token_hash)


@dataclass
class FakeRequestLedger:
    """Claims of request ids by (owner, request id), with the table's condition."""

    records: dict[tuple[str, str], tuple[RequestRecord, int]] = field(default_factory=dict)
    claims: int = 0  # conditional writes tried

    def claim(
        self, owner: str, request_id: str, record: RequestRecord, now_s: int, expires_at: int
    ) -> RequestRecord | None:
        self.claims += 1
        held = self.records.get((owner, request_id))
        if held is not None:
            stored, stored_expiry = held
            died = stored.state == "in_progress" and stored.in_flight_until <= now_s
            if stored_expiry > now_s and not died:
                return stored
        self.records[(owner, request_id)] = (record, expires_at)
        return None

    def complete(self, owner: str, request_id: str, record: RequestRecord, expires_at: int) -> None:
        self.records[(owner, request_id)] = (record, expires_at)

    def release(self, owner: str, request_id: str) -> None:
        self.records.pop((owner, request_id), None)
