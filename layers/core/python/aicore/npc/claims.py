"""Claims of `npc.say` request ids: the record a claim keeps, whose claim it is, and the ledger that
keeps them (the connections table; `aicore.aws.request_ledger`).

Shared by the turn run at most once per request id (`aicore.npc.requests`) and by `npc.interrupt`
(`aicore.npc.interrupts`), which marks a claim in progress as interrupted. Nothing here imports the
turn, so ws-default answers an interrupt without loading it.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel

from aicore.auth import Caller


class RequestRecord(BaseModel):
    """A request id as claimed: its frame's fingerprint, and the reply once the turn completed."""

    state: Literal["in_progress", "completed"]
    fingerprint: str
    in_flight_until: int
    reply: str | None = None  # the TurnReply, as JSON
    # The player asked the turn to stop (`npc.interrupt`) while it was in progress: set by the
    # interrupt, never cleared by the turn's completion (a second interrupt gets the same answer).
    interrupted: bool = False


class RequestLedger(Protocol):
    def claim(
        self, owner: str, request_id: str, record: RequestRecord, now_s: int, expires_at: int
    ) -> RequestRecord | None:
        """Claim the request id for its owner unless a live claim holds it (not expired, and either
        completed or still in flight): None when claimed, else the claim that holds it."""
        ...

    def complete(self, owner: str, request_id: str, record: RequestRecord, expires_at: int) -> None:
        """Store the completed claim, keeping an interrupt mark it may have got meanwhile."""
        ...

    def release(self, owner: str, request_id: str) -> None: ...

    def interrupt(self, owner: str, request_id: str, now_s: int) -> RequestRecord | None:
        """Mark the claim interrupted if its run is still in flight (or it was marked already): the
        claim as it is then; None when the owner has no live claim of this request id."""
        ...

    def interrupt_requested(self, owner: str, request_id: str) -> bool:
        """Whether the claim is marked interrupted (one strongly consistent read of one attribute)."""
        ...


def owner_of(caller: Caller) -> str:
    return f"{caller.world_id}#{caller.subject}"
