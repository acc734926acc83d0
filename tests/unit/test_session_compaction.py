"""Compaction logic over an in-memory store: when it runs, what it moves, leases, failures, the trigger."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aicore.errors import ModelUnavailable
from aicore.sessions.compaction import Compacted, CompactionTrigger, compact
from aicore.sessions.events import SessionCompactionNeeded
from aicore.sessions.models import Message, Participant, ParticipantKind, SessionHead
from aicore.sessions.policy import SessionPolicy
from aicore.topology import SESSION_COMPACTION_NEEDED, SESSIONS_SOURCE
from tests.fakes import FakePublisher
from tests.tier_fakes import MemoryStore, RecordingSummarizer

NPC = Participant(id="mira", kind=ParticipantKind.NPC)
POLICY = SessionPolicy()  # threshold 200, keep 50 hot, chunks of 100
NOW = datetime(2026, 11, 23, 5, 40, tzinfo=UTC)


def _store(count: int) -> MemoryStore:
    head = SessionHead(world_id="demo", participants=[NPC], message_count=count, summary="They met.")
    return MemoryStore(head, {s: Message(seq=s, speaker=NPC, text=f"line {s}") for s in range(1, count + 1)})


def _compact(store: MemoryStore, summarizer: RecordingSummarizer) -> Compacted:
    return compact(store, summarizer, POLICY, store.head.session_id, clock=lambda: NOW)


def test_below_the_threshold_nothing_moves_and_no_model_is_called() -> None:
    store, summarizer = _store(199), RecordingSummarizer()
    outcome = _compact(store, summarizer)
    assert outcome.compacted is False
    assert summarizer.calls == []


def test_at_the_threshold_whole_chunks_leave_with_a_summary_covering_them() -> None:
    store, summarizer = _store(260), RecordingSummarizer()
    outcome = _compact(store, summarizer)
    # 260 - 50 kept hot = 210 candidates: two whole chunks leave, the rest stays hot
    assert outcome.compacted is True
    assert [(c.first_seq, c.last_seq) for c in store.chunks] == [(1, 100), (101, 200)]
    assert sorted(store.hot) == list(range(201, 261))
    assert summarizer.calls == [("They met.", list(range(1, 201)))]
    assert (store.head.compacted_through, store.head.summary_through) == (200, 200)
    assert store.head.summary == "They met. then 200 more lines."


def test_a_second_delivery_does_not_pay_for_a_second_summary() -> None:
    store, summarizer = _store(200), RecordingSummarizer()
    store.lease = "2026-11-23T05:42:00.000+00:00"  # another summarizer holds it for two more minutes
    assert _compact(store, summarizer).compacted is False
    assert summarizer.calls == []


def test_a_failed_summary_gives_the_lease_back_and_raises_for_a_retry() -> None:
    store, summarizer = _store(200), RecordingSummarizer(fails=True)
    with pytest.raises(ModelUnavailable):
        _compact(store, summarizer)
    assert store.lease is None
    assert store.chunks == []


def test_losing_the_commit_race_changes_nothing() -> None:
    store, summarizer = _store(200), RecordingSummarizer()
    store.compacted_elsewhere = True
    assert _compact(store, summarizer).compacted is False
    assert len(store.hot) == 200


def test_the_trigger_asks_once_at_the_threshold_then_every_chunk() -> None:
    events = FakePublisher()
    trigger = CompactionTrigger(lambda: events, POLICY)
    head = SessionHead(world_id="demo", participants=[NPC])
    for count in range(1, 321):
        message = Message(seq=count, speaker=NPC, text="x", correlation_id=f"c-{count}")
        trigger.appended(head.model_copy(update={"message_count": count}), [message])
    asked = [detail for _, _, detail in events.published]
    assert all(isinstance(d, SessionCompactionNeeded) for d in asked)
    assert [d.hot_count for d in asked if isinstance(d, SessionCompactionNeeded)] == [200, 300]
    assert {(s, t) for s, t, _ in events.published} == {(SESSIONS_SOURCE, SESSION_COMPACTION_NEEDED)}
