"""In-memory stand-ins for the protocol v2 stores (resume tokens, claims of request ids)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aicore.npc.claims import RequestRecord
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
    mark_reads: int = 0  # reads of an interrupt mark (GetItem)

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
        held = self.records.get((owner, request_id))
        marked = record.interrupted or (held is not None and held[0].interrupted)  # an update keeps the mark
        self.records[(owner, request_id)] = (record.model_copy(update={"interrupted": marked}), expires_at)

    def release(self, owner: str, request_id: str) -> None:
        self.records.pop((owner, request_id), None)

    def interrupt(self, owner: str, request_id: str, now_s: int) -> RequestRecord | None:
        held = self.records.get((owner, request_id))
        if held is None or held[1] <= now_s:
            return None
        record, expires_at = held
        if record.interrupted or (record.state == "in_progress" and record.in_flight_until > now_s):
            record = record.model_copy(update={"interrupted": True})
            self.records[(owner, request_id)] = (record, expires_at)
        return record

    def interrupt_requested(self, owner: str, request_id: str) -> bool:
        self.mark_reads += 1
        held = self.records.get((owner, request_id))
        return held is not None and held[0].interrupted
