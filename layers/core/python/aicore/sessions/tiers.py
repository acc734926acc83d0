"""Moving sessions between tiers: archive to S3 when dormant, rehydrate when needed again.

Each move is a few idempotent steps, every one conditional on the state it expects, so a step
can be retried, and two movers (the flow and a write that cannot wait) never both win. A mover
has an id (a flow's execution, or one inline rehydration) that the head records when it moves:
a step run again by the same mover (Step Functions retries a task; a Lambda may time out after
its write) finds its own move and answers as the first run did; another mover is refused.

archive:   freeze (live -> archiving) -> upload (S3 object) -> seal (-> cold tombstone, items purged)
           on failure: thaw (archiving -> live, nothing lost)
rehydrate: claim (cold -> rehydrating) -> restore (items back, head live) -> discard (the S3 object)
           on failure: release (rehydrating -> cold, the archive is still the truth)

The Step Functions flows in `state_machines/` run these steps one Lambda task each; a write to a
cold session runs the rehydrate steps inline (`Tiering.rehydrate_now`), the same code.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from pydantic import BaseModel

from aicore.clock import Clock, now, stamp
from aicore.errors import Conflict
from aicore.flows import FlowStarter
from aicore.observability import logger
from aicore.sessions.archive import ArchivedSession, ArchiveMissing, SessionArchive, archive_key
from aicore.sessions.chunks import Chunk, chunks_from_layout
from aicore.sessions.models import Message, SessionHead, StorageTier
from aicore.sessions.policy import SessionPolicy
from aicore.sessions.store import SessionNotLive
from aicore.topology import SESSION_ARCHIVE_FLOW

WAIT_STEP_S = 0.2


class TieringStore(Protocol):
    """The table side of the moves. Each move records its mover on the head; a move the same mover
    made already (a retried step) is answered with the head as it left it."""

    def get_head(self, session_id: str) -> SessionHead: ...
    def moved_by(self, session_id: str) -> tuple[SessionHead, str | None]:
        """The head and the mover that moved it last (None: never moved)."""
        ...

    def everything(self, session_id: str) -> tuple[list[Message], list[tuple[int, int]]]: ...
    def freeze(self, session_id: str, active_before: str | None, mover: str) -> SessionHead | None:
        """live -> archiving (if still dormant, with `active_before`), or archiving by `mover` already."""
        ...

    def thaw(self, session_id: str, mover: str) -> SessionHead | None:
        """archiving by `mover` -> live; None if `mover` does not hold it archiving."""
        ...

    def seal(self, head: SessionHead, key: str) -> SessionHead: ...
    def purge(self, session_id: str) -> int: ...
    def claim_rehydration(self, session_id: str, stale_before: str, mover: str) -> SessionHead | None:
        """cold -> rehydrating, a stalled rehydration taken over, or rehydrating by `mover` already."""
        ...

    def release_rehydration(self, session_id: str, mover: str) -> SessionHead | None:
        """rehydrating by `mover` -> cold; None if `mover` does not hold it rehydrating."""
        ...

    def put_archived_items(
        self, session_id: str, messages: Sequence[Message], chunks: Sequence[Chunk]
    ) -> None: ...
    def finish_rehydration(self, archived: SessionHead, key: str, mover: str) -> SessionHead:
        """rehydrating by `mover` from `key` -> live, the head as archived; `Conflict` otherwise."""
        ...

    def dormant(self, active_before_day: str, limit: int) -> list[str]: ...


class Frozen(BaseModel):
    session_id: str
    frozen: bool
    tier: StorageTier | None = None


class Uploaded(BaseModel):
    session_id: str
    archive_key: str
    message_count: int
    stored_messages: int
    bytes: int


class Sealed(BaseModel):
    session_id: str
    archive_key: str
    purged_items: int


class Claimed(BaseModel):
    session_id: str
    claimed: bool
    archive_key: str | None = None
    tier: StorageTier | None = None


class Restored(BaseModel):
    session_id: str
    archive_key: str
    messages: int
    tier: StorageTier


class SweepResult(BaseModel):
    active_before: str
    dormant: int
    started: list[str]


@dataclass
class Tiering:
    store: TieringStore
    archive: SessionArchive
    policy: SessionPolicy = field(default_factory=SessionPolicy)
    clock: Clock = now
    sleep: Callable[[float], None] = time.sleep

    # --- archive ----------------------------------------------------------------------------------

    def freeze(self, session_id: str, active_before: str | None, mover: str) -> Frozen:
        """Stop writes; with `active_before`, only if the session is still dormant. Run again by the
        same mover, it answers frozen again: the session is still archiving for it."""
        head = self.store.freeze(session_id, active_before, mover)
        if head is None:
            current = self.store.get_head(session_id)
            logger.info("Session not archived", extra={"session_id": session_id, "tier": current.tier})
            return Frozen(session_id=session_id, frozen=False, tier=current.tier)
        return Frozen(session_id=session_id, frozen=True, tier=head.tier)

    def upload(self, session_id: str) -> Uploaded:
        head = self._expect(session_id, StorageTier.ARCHIVING)
        messages, bounds = self.store.everything(session_id)
        document = ArchivedSession.of(head.model_copy(update={"tier": head.live_tier}), messages, bounds)
        key = archive_key(head, head.tier_changed_at or document.archived_at)
        data = document.encode()
        self.archive.put(key, data)
        return Uploaded(
            session_id=session_id,
            archive_key=key,
            message_count=head.message_count,
            stored_messages=len(messages),
            bytes=len(data),
        )

    def seal(self, session_id: str, key: str) -> Sealed:
        """Check the object really holds the session, then make the head a tombstone and purge items."""
        head = self.store.get_head(session_id)
        if head.tier is StorageTier.ARCHIVING:
            archived = ArchivedSession.decode(self.archive.get(key))
            if archived.head.session_id != session_id or archived.head.message_count != head.message_count:
                raise Conflict("The archive object does not hold this session as frozen.", {"key": key})
            head = self.store.seal(head, key)
        elif not (head.tier is StorageTier.COLD and head.archive_key == key):
            raise Conflict(
                f"Session '{session_id}' is {head.tier.value}, not archiving.", {"session_id": session_id}
            )
        return Sealed(session_id=session_id, archive_key=key, purged_items=self.store.purge(session_id))

    def thaw(self, session_id: str, mover: str) -> Frozen:
        """Give a session this mover froze back to writes; a session no longer frozen by it stays as it is."""
        head = self.store.thaw(session_id, mover)
        return Frozen(session_id=session_id, frozen=False, tier=None if head is None else head.tier)

    # --- rehydrate --------------------------------------------------------------------------------

    def claim(self, session_id: str, mover: str) -> Claimed:
        """Take a cold session to rehydrate it; run again by the same mover, it answers claimed again."""
        stale_before = stamp(self.clock() - timedelta(seconds=self.policy.rehydration_stale_s))
        head = self.store.claim_rehydration(session_id, stale_before, mover)
        if head is None:
            return Claimed(session_id=session_id, claimed=False, tier=self.store.get_head(session_id).tier)
        return Claimed(session_id=session_id, claimed=True, archive_key=head.archive_key, tier=head.tier)

    def restore(self, session_id: str, key: str, mover: str) -> Restored:
        """Put the archived items back and make the head live, for the mover that claimed it.

        Run again by that mover after it succeeded, it writes nothing (the session may have taken
        writes since) and answers restored; any other state is a `Conflict`.
        """
        archived = ArchivedSession.decode(self.archive.get(key))
        if archived.head.session_id != session_id:
            raise Conflict("The archive object holds another session.", {"key": key})
        head, moved_by = self.store.moved_by(session_id)
        if moved_by != mover or not (
            head.is_live or (head.tier is StorageTier.REHYDRATING and head.archive_key == key)
        ):
            raise Conflict(
                f"Session '{session_id}' is {head.tier.value}: this rehydration does not hold it.",
                {"session_id": session_id},
            )
        if not head.is_live:
            chunks = chunks_from_layout(archived.messages, archived.chunk_bounds)
            self.store.put_archived_items(session_id, archived.messages, chunks)
            head = self.store.finish_rehydration(archived.head, key, mover)
        return Restored(
            session_id=session_id, archive_key=key, messages=len(archived.messages), tier=head.tier
        )

    def discard(self, key: str) -> None:
        """The archive object of a session that is live again (the bucket keeps old versions a while)."""
        self.archive.delete(key)

    def release(self, session_id: str, mover: str) -> Claimed:
        """Give a session this mover claimed back to its archive; one it does not hold stays as it is."""
        head = self.store.release_rehydration(session_id, mover)
        return Claimed(session_id=session_id, claimed=False, tier=None if head is None else head.tier)

    def rehydrate_now(self, session_id: str) -> SessionHead:
        """Bring a session back into DynamoDB before a write, whatever tier it is moving through.

        Runs the rehydrate flow's steps inline when the session is cold; waits while another mover
        (an archive that is finishing, a rehydration under way) completes; gives up with a 409
        after `policy.tier_wait_s`.
        """
        deadline = time.monotonic() + self.policy.tier_wait_s
        mover = f"inline-{uuid.uuid4().hex}"
        while True:
            head = self.store.get_head(session_id)
            if head.is_live:
                return head
            if head.tier in (StorageTier.COLD, StorageTier.REHYDRATING):
                claimed = self.claim(session_id, mover)
                if claimed.claimed and claimed.archive_key is not None:
                    self._restore_or_release(session_id, claimed.archive_key, mover)
                    continue
            if time.monotonic() >= deadline:
                raise SessionNotLive(head)
            self.sleep(WAIT_STEP_S)

    def _restore_or_release(self, session_id: str, key: str, mover: str) -> None:
        try:
            self.restore(session_id, key, mover)
        except Exception:
            self.release(session_id, mover)
            raise
        try:
            self.discard(key)
        except Exception:  # the session is live: a leftover object costs a little, nothing more
            logger.exception("Could not discard a rehydrated archive", extra={"key": key})

    def read_archived(self, head: SessionHead) -> ArchivedSession | None:
        """A cold session as its archive holds it; None when it came back meanwhile (read DynamoDB)."""
        if head.archive_key is None:
            return None
        try:
            return ArchivedSession.decode(self.archive.get(head.archive_key))
        except ArchiveMissing:
            return None

    # --- sweep ------------------------------------------------------------------------------------

    def sweep(self, flows: FlowStarter, limit: int = 500) -> SweepResult:
        """Start the archive flow for each session dormant longer than the policy allows."""
        moment = self.clock()
        active_before = stamp(moment - timedelta(days=self.policy.dormancy_days))
        dormant = self.store.dormant(active_before[:10], limit)
        started = [
            session_id
            for session_id in dormant
            if flows.start(
                SESSION_ARCHIVE_FLOW,
                f"{session_id}-dormant-{active_before[:10].replace('-', '')}",
                {"session_id": session_id, "active_before": active_before, "reason": "dormant"},
            ).started
        ]
        return SweepResult(active_before=active_before, dormant=len(dormant), started=started)

    def _expect(self, session_id: str, tier: StorageTier) -> SessionHead:
        head = self.store.get_head(session_id)
        if head.tier is not tier:
            raise Conflict(
                f"Session '{session_id}' is {head.tier.value}, not {tier.value}.", {"session_id": session_id}
            )
        return head
