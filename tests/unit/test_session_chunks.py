"""The warm and cold formats and the paging rules: pure functions, checked with examples and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicore.sessions.archive import ArchivedSession, archive_key
from aicore.sessions.chunks import (
    chunks_from_layout,
    decode_messages,
    encode_messages,
    newest_before,
    next_before,
    plan_chunks,
)
from aicore.sessions.models import Message, Participant, ParticipantKind, SessionHead
from aicore.sessions.policy import SessionPolicy
from aicore.sessions.service import merge_patch

PLAYER = Participant(id="p1", kind=ParticipantKind.PLAYER)


def _messages(seqs: range | list[int], text: str = "line") -> list[Message]:
    return [
        Message(seq=s, speaker=PLAYER, text=f"{text} {s}", created_at="2026-11-23T05:40:01.000+00:00")
        for s in seqs
    ]


def test_chunks_are_full_and_the_partial_rest_stays_hot() -> None:
    chunks = plan_chunks(_messages(range(1, 251)), chunk_messages=100)
    assert [(c.first_seq, c.last_seq) for c in chunks] == [(1, 100), (101, 200)]


def test_a_chunk_closes_early_at_the_byte_cap() -> None:
    long = _messages(range(1, 11), text="x" * 1000)
    chunks = plan_chunks(long, chunk_messages=100, max_json_bytes=3500)
    assert [len(c.messages) for c in chunks] == [3, 3, 3]  # the tenth is a partial group: stays hot


def test_chunk_encoding_is_deterministic_and_lossless() -> None:
    messages = _messages(range(1, 101))
    data = encode_messages(messages)
    assert data == encode_messages(messages)
    assert decode_messages(data) == messages
    assert len(data) < len("".join(m.model_dump_json() for m in messages)) / 3


def test_chunks_rebuild_exactly_from_their_layout() -> None:
    messages = _messages(range(1, 251))
    planned = plan_chunks(messages, chunk_messages=100)
    rebuilt = chunks_from_layout(messages, [(c.first_seq, c.last_seq) for c in planned])
    assert [c.encode() for c in rebuilt] == [c.encode() for c in planned]


def test_archive_document_round_trips_byte_for_byte() -> None:
    head = SessionHead(world_id="demo", participants=[PLAYER], message_count=250, compacted_through=200)
    document = ArchivedSession.of(head, _messages(range(1, 251)), [(1, 100), (101, 200)])
    data = document.encode()
    assert data == document.encode()  # same session, same bytes (no timestamp in the gzip header)
    back = ArchivedSession.decode(data)
    assert back == document
    assert [m.model_dump_json() for m in back.messages] == [m.model_dump_json() for m in document.messages]
    assert archive_key(head, document.archived_at).startswith(f"sessions/demo/{head.session_id}/")


@pytest.mark.parametrize(
    ("before", "limit", "expected", "cursor"),
    [
        (11, 3, [8, 9, 10], 8),
        (4, 3, [1, 2, 3], None),  # reaches the first message: no page before it
        (2, 3, [1], None),
        (1, 3, [], None),  # nothing comes before the first message
        (100, 3, [8, 9, 10], 8),  # a cursor past the end reads the newest
        (11, 50, list(range(1, 11)), None),
    ],
)
def test_page_edges(before: int, limit: int, expected: list[int], cursor: int | None) -> None:
    page = newest_before([_messages(range(1, 11))], before, limit)
    assert [m.seq for m in page] == expected
    assert next_before(page) == cursor


@given(
    seqs=st.sets(st.integers(min_value=1, max_value=300), max_size=120),
    overlap=st.sets(st.integers(min_value=1, max_value=300), max_size=40),
    before=st.integers(min_value=1, max_value=320),
    limit=st.integers(min_value=1, max_value=60),
)
def test_pages_merge_sources_once_per_seq_in_order(
    seqs: set[int], overlap: set[int], before: int, limit: int
) -> None:
    # Given messages split between "warm" and "hot", some caught in both (a compaction mid-way)
    everything = _messages(sorted(seqs))
    warm = [m for m in everything if m.seq % 2 == 0 or m.seq in overlap]
    hot = [m for m in everything if m.seq % 2 == 1 or m.seq in overlap]
    # Then a page is the newest `limit` below `before`, each once, oldest first
    page = newest_before([hot, warm], before, limit)
    expected = [s for s in sorted(seqs) if s < before][-limit:]
    assert [m.seq for m in page] == expected


@pytest.mark.parametrize(
    ("hot_before", "hot_after", "due"),
    [
        (198, 199, False),
        (199, 200, True),
        (200, 201, False),
        (290, 300, True),
        (300, 305, False),
        (150, 210, True),
    ],
)
def test_compaction_is_asked_at_the_threshold_and_every_chunk_past_it(
    hot_before: int, hot_after: int, due: bool
) -> None:
    policy = SessionPolicy(compaction_threshold=200, hot_keep=50, chunk_messages=100)
    assert policy.compaction_due(hot_before, hot_after) is due


def test_policy_refuses_a_threshold_that_cannot_fill_a_chunk() -> None:
    with pytest.raises(ValueError, match="compaction_threshold"):
        SessionPolicy(compaction_threshold=100, hot_keep=50, chunk_messages=100)


def test_metadata_merge_patch() -> None:
    target = {"mood": "calm", "quest": {"step": 1, "giver": "mira"}, "tags": ["a"]}
    patch = {"mood": None, "quest": {"step": 2}, "tags": ["b"], "new": 1}
    assert merge_patch(target, patch) == {"quest": {"step": 2, "giver": "mira"}, "tags": ["b"], "new": 1}


def _seq_reads_to_rebuild(count: int, monkeypatch: pytest.MonkeyPatch) -> int:
    """How often rebuilding a `count`-message session's chunks (of 10) reads a message's seq."""
    speaker = Participant(id="p", kind=ParticipantKind.PLAYER)
    messages = [Message(seq=s, speaker=speaker, text="x") for s in range(1, count + 1)]
    bounds = [(first, first + 9) for first in range(1, count + 1, 10)]
    reads = 0
    plain = Message.__getattribute__

    def counting(self: Message, name: str) -> object:
        nonlocal reads
        reads += name == "seq"
        return plain(self, name)

    with monkeypatch.context() as patched:
        patched.setattr(Message, "__getattribute__", counting)
        chunks = chunks_from_layout(messages, bounds)
    assert len(chunks) == count // 10
    return reads


def test_rebuilding_chunks_is_linear_in_the_session_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ten times the messages (and the chunks) costs about ten times the work, not a hundred
    small, large = (_seq_reads_to_rebuild(n, monkeypatch) for n in (1_000, 10_000))
    assert large <= 11 * small
