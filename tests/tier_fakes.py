"""Fakes of the session tiers' interfaces: `TieringStore`, `SessionArchive`, `CompactionStore`, `Summarizer`.

`FakeTieringStore` keeps a session's head, hot messages and warm chunks in memory, and makes every
tier move on the condition `aicore.aws.sessions.tiering.DynamoTieringStore` puts on its DynamoDB
write: a move whose condition fails changes nothing (None, or Conflict where the adapter raises).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aicore.clock import stamp
from aicore.errors import Conflict, ModelUnavailable, NotFound
from aicore.sessions.archive import ArchiveMissing
from aicore.sessions.chunks import Chunk, chunks_from_layout
from aicore.sessions.models import LIVE_TIERS, Message, Participant, ParticipantKind, SessionHead, StorageTier
from aicore.sessions.policy import SessionPolicy
from aicore.sessions.tiers import Tiering

# The tiers whose heads the dormancy index holds: sealing removes a head from it, a tier move keeps it.
INDEXED_TIERS = (*LIVE_TIERS, StorageTier.ARCHIVING)


@dataclass
class Moment:
    """A clock that tests move: `Tiering(clock=moment)` and `FakeTieringStore(clock=moment)`."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@dataclass
class FakeTieringStore:
    clock: Moment
    heads: dict[str, SessionHead] = field(default_factory=dict)
    messages: dict[str, dict[int, Message]] = field(default_factory=dict)  # hot items, by seq
    chunks: dict[str, dict[int, Chunk]] = field(default_factory=dict)  # warm items, by first seq
    movers: dict[str, str] = field(default_factory=dict)  # the mover that moved each head last

    def add(
        self, head: SessionHead, messages: Sequence[Message], bounds: Sequence[tuple[int, int]] = ()
    ) -> None:
        """A live session: `messages` in chunks for `bounds`, the rest hot."""
        self.heads[head.session_id] = head
        self.put_archived_items(head.session_id, messages, chunks_from_layout(messages, bounds))

    def items(self, session_id: str) -> tuple[dict[int, Message], dict[int, Chunk]]:
        """What DynamoDB holds of a session besides its head: hot messages and chunks."""
        return dict(self.messages.get(session_id, {})), dict(self.chunks.get(session_id, {}))

    # --- TieringStore -----------------------------------------------------------------------------

    def get_head(self, session_id: str) -> SessionHead:
        if session_id not in self.heads:
            raise NotFound(f"Session '{session_id}' does not exist.")
        return self.heads[session_id]

    def moved_by(self, session_id: str) -> tuple[SessionHead, str | None]:
        return self.get_head(session_id), self.movers.get(session_id)

    def everything(self, session_id: str) -> tuple[list[Message], list[tuple[int, int]]]:
        hot, chunks = self.items(session_id)
        by_seq = {m.seq: m for c in chunks.values() for m in c.messages} | hot
        bounds = sorted((c.first_seq, c.last_seq) for c in chunks.values())
        return [by_seq[seq] for seq in sorted(by_seq)], bounds

    def freeze(self, session_id: str, active_before: str | None, mover: str) -> SessionHead | None:
        head = self.heads.get(session_id)
        if head is None:
            return None
        if head.tier is StorageTier.ARCHIVING and self.movers.get(session_id) == mover:
            return head  # its freeze run again: nothing is written
        if not head.is_live:
            return None
        if active_before is not None and not head.updated_at < active_before:
            return None
        return self._move(head, StorageTier.ARCHIVING, mover)

    def thaw(self, session_id: str, mover: str) -> SessionHead | None:
        head = self.get_head(session_id)
        if head.tier is not StorageTier.ARCHIVING or self.movers.get(session_id) != mover:
            return None
        return self._move(head, head.live_tier, mover)

    def seal(self, head: SessionHead, key: str) -> SessionHead:
        current = self.get_head(head.session_id)
        archiving = current.tier is StorageTier.ARCHIVING and current.message_count == head.message_count
        sealed = current.tier is StorageTier.COLD and current.archive_key == key
        if not (archiving or sealed):
            raise Conflict("The session is not being archived.", {"session_id": head.session_id})
        return self._move(current, StorageTier.COLD, self.movers.get(head.session_id), archive_key=key)

    def purge(self, session_id: str) -> int:
        hot, chunks = self.messages.pop(session_id, {}), self.chunks.pop(session_id, {})
        return len(hot) + len(chunks)

    def claim_rehydration(self, session_id: str, stale_before: str, mover: str) -> SessionHead | None:
        head = self.heads.get(session_id)
        if head is None:
            return None
        rehydrating = head.tier is StorageTier.REHYDRATING
        stalled = rehydrating and (head.tier_changed_at or "") < stale_before
        if head.tier is StorageTier.COLD or stalled:
            return self._move(head, StorageTier.REHYDRATING, mover)
        if rehydrating and self.movers.get(session_id) == mover:
            return head  # its claim run again: nothing is written
        return None

    def release_rehydration(self, session_id: str, mover: str) -> SessionHead | None:
        head = self.heads.get(session_id)
        if head is None or head.tier is not StorageTier.REHYDRATING or self.movers.get(session_id) != mover:
            return None
        return self._move(head, StorageTier.COLD, mover)

    def put_archived_items(
        self, session_id: str, messages: Sequence[Message], chunks: Sequence[Chunk]
    ) -> None:
        chunked = {m.seq for c in chunks for m in c.messages}
        self.chunks.setdefault(session_id, {}).update((c.first_seq, c) for c in chunks)
        self.messages.setdefault(session_id, {}).update((m.seq, m) for m in messages if m.seq not in chunked)

    def finish_rehydration(self, archived: SessionHead, key: str, mover: str) -> SessionHead:
        current = self.get_head(archived.session_id)
        held = self.movers.get(archived.session_id) == mover
        if current.tier is not StorageTier.REHYDRATING or current.archive_key != key or not held:
            raise Conflict("The session is not being rehydrated.", {"session_id": archived.session_id})
        now = stamp(self.clock())
        head = archived.model_copy(
            update={
                "tier": archived.live_tier,
                "archive_key": None,
                "tier_changed_at": now,
                "updated_at": now,
            }
        )
        self.heads[head.session_id] = head
        return head

    def dormant(self, active_before_day: str, limit: int) -> list[str]:
        return [
            head.session_id
            for head in self.heads.values()
            if head.tier in INDEXED_TIERS and head.updated_at[:10] < active_before_day
        ][:limit]

    def _move(self, head: SessionHead, to: StorageTier, mover: str | None, **changes: str) -> SessionHead:
        moved = head.model_copy(update={"tier": to, "tier_changed_at": stamp(self.clock()), **changes})
        self.heads[head.session_id] = moved
        if mover is not None:
            self.movers[head.session_id] = mover
        return moved


@dataclass
class FakeArchive:
    """The archive bucket: objects by key. `refuse_puts`: S3 unreachable for uploads."""

    objects: dict[str, bytes] = field(default_factory=dict)
    refuse_puts: bool = False
    refuse_deletes: bool = False

    def put(self, key: str, data: bytes) -> None:
        if self.refuse_puts:
            raise ConnectionError("S3 is unreachable")
        self.objects[key] = data

    def get(self, key: str) -> bytes:
        if key not in self.objects:
            raise ArchiveMissing(key)
        return self.objects[key]

    def delete(self, key: str) -> None:
        if self.refuse_deletes:
            raise ConnectionError("S3 is unreachable")
        self.objects.pop(key, None)  # as S3: deleting what is not there is no error


@dataclass
class MemoryStore:
    """`CompactionStore` of one session, in memory (the lease as an expiry stamp)."""

    head: SessionHead
    hot: dict[int, Message]
    chunks: list[Chunk] = field(default_factory=list)
    lease: str | None = None
    compacted_elsewhere: bool = False

    def get_head(self, session_id: str) -> SessionHead:
        return self.head

    def hot_messages(self, session_id: str, after_seq: int, through_seq: int) -> list[Message]:
        return [self.hot[s] for s in sorted(self.hot) if after_seq < s <= through_seq]

    def lease_compaction(self, head: SessionHead, until: str, now: str) -> bool:
        if self.lease is not None and self.lease > now:
            return False
        self.lease = until
        return True

    def release_compaction(self, head: SessionHead, until: str) -> None:
        if self.lease == until:
            self.lease = None

    def commit_compaction(
        self, head: SessionHead, chunks: Sequence[Chunk], summary: str, summary_through: int
    ) -> SessionHead:
        if self.compacted_elsewhere:
            raise Conflict("compacted meanwhile")
        self.chunks += chunks
        for chunk in chunks:
            for message in chunk.messages:
                del self.hot[message.seq]
        self.head = head.model_copy(
            update={
                "compacted_through": chunks[-1].last_seq,
                "summary": summary,
                "summary_through": summary_through,
                "tier": StorageTier.WARM,
            }
        )
        self.lease = None
        return self.head


@dataclass
class RecordingSummarizer:
    """A `Summarizer` that says how many lines it read, and remembers what it was asked."""

    fails: bool = False
    calls: list[tuple[str, list[int]]] = field(default_factory=list)

    def summarize(self, previous: str, messages: Sequence[Message], max_tokens: int) -> str:
        self.calls.append((previous, [m.seq for m in messages]))
        if self.fails:
            raise ModelUnavailable("silver is down")
        return f"{previous} then {len(messages)} more lines.".strip()


# Movers: the executions of an archive flow and of a rehydrate flow (what their ASL passes as `mover`)
ARCHIVER = "arn:aws:states:us-east-1:123456789012:execution:aicore-test-session-archive:a1"
REHYDRATOR = "arn:aws:states:us-east-1:123456789012:execution:aicore-test-session-rehydrate:r1"
MIRA = Participant(id="mira", kind=ParticipantKind.NPC)
PLAYER = Participant(id="p1", kind=ParticipantKind.PLAYER)
NOW = datetime(2026, 11, 23, 5, 40, tzinfo=UTC)


class TieringWorld:
    """A tiering store, an archive bucket and the `Tiering` over them, all on one clock; sleeps recorded."""

    def __init__(self, policy: SessionPolicy | None = None) -> None:
        self.moment = Moment(NOW)
        self.store = FakeTieringStore(self.moment)
        self.archive = FakeArchive()
        self.sleeps: list[float] = []
        self.tiering = Tiering(
            self.store, self.archive, policy or SessionPolicy(), clock=self.moment, sleep=self.sleeps.append
        )

    def warm_session(self, last_active: datetime = NOW) -> SessionHead:
        """120 messages: 1-100 in a warm chunk, 101-120 hot; a summary; version 3."""
        messages = [
            Message(seq=s, speaker=MIRA if s % 2 else PLAYER, text=f"line {s}") for s in range(1, 121)
        ]
        head = SessionHead(
            world_id="demo",
            participants=[MIRA, PLAYER],
            metadata={"quest": "the lost ring"},
            version=3,
            message_count=120,
            tier=StorageTier.WARM,
            summary="Mira told of the ring.",
            summary_through=100,
            compacted_through=100,
            updated_at=stamp(last_active),
        )
        self.store.add(head, messages, [(1, 100)])
        return head

    def archived(self, head: SessionHead) -> str:
        """Runs the archive flow's steps; the archive key."""
        assert self.tiering.freeze(head.session_id, None, ARCHIVER).frozen
        key = self.tiering.upload(head.session_id).archive_key
        self.tiering.seal(head.session_id, key)
        return key

    def tier(self, head: SessionHead) -> StorageTier:
        return self.store.get_head(head.session_id).tier
