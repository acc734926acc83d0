"""The EventBridge consumers through their real handlers, over fakes and tests/events fixtures.

npc-memory (NPC Turn Completed) and session-summarizer (Session Compaction Needed). EventBridge
delivers at least once: each consumer is also given the same event twice.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser import ValidationError as ParserValidationError
from pydantic import ValidationError

from aicore.errors import ModelUnavailable
from aicore.sessions.models import Message, Participant, ParticipantKind, SessionHead, StorageTier
from aicore.sessions.policy import SessionPolicy
from tests.events import load_event
from tests.fakes import FakeWorld
from tests.handlers import invoke
from tests.minds import mind_deps
from tests.tier_fakes import MemoryStore, RecordingSummarizer

MIRA = Participant(id="mira", kind=ParticipantKind.NPC)


# --- npc-memory -----------------------------------------------------------------------------------


def test_the_npc_remembers_the_player_after_a_turn() -> None:
    # Given a turn of the player p1 with Mira, announced on the bus
    world = FakeWorld()
    mind = mind_deps(world)
    event = load_event("npc_turn_completed")

    # When the event is delivered
    answer = invoke("npc-memory", event, world=world, mind=mind)

    # Then Mira remembers p1: one turn, what p1 said, when
    assert (answer["npc_id"], answer["player_id"], answer["turns"]) == ("mira", "p1", 1)
    assert answer["mind"]["written"]  # and the mind took the turn in
    memory = world.memories[("demo", "mira", "p1")]
    assert (memory.last_player_line, memory.last_seen) == (
        "Any rooms tonight?",
        event["detail"]["occurred_at"],
    )


def test_each_turn_adds_to_what_the_npc_remembers() -> None:
    world = FakeWorld()
    mind = mind_deps(world)
    first = load_event("npc_turn_completed")
    second = load_event("npc_turn_completed", id="a second event")
    second["detail"] = first["detail"] | {"player_line": "And a meal?", "correlation_id": "c-2"}

    invoke("npc-memory", first, world=world, mind=mind)
    assert invoke("npc-memory", second, world=world, mind=mind)["turns"] == 2
    assert world.memories[("demo", "mira", "p1")].last_player_line == "And a meal?"


def test_a_redelivered_turn_is_remembered_once() -> None:
    world = FakeWorld()
    mind = mind_deps(world)
    event = load_event("npc_turn_completed")
    invoke("npc-memory", event, world=world, mind=mind)
    again = invoke("npc-memory", event, world=world, mind=mind)
    assert (again["turns"], again["mind"]["written"]) == (1, False)


def test_a_turn_event_without_its_fields_is_refused_and_remembers_nothing() -> None:
    world = FakeWorld()
    mind = mind_deps(world)
    event = load_event("npc_turn_completed")
    del event["detail"]["player_id"]
    with pytest.raises((ValidationError, ParserValidationError)):
        invoke("npc-memory", event, world=world, mind=mind)
    assert world.memories == {}


# --- session-summarizer ---------------------------------------------------------------------------


def _session(count: int) -> MemoryStore:
    head = SessionHead(
        session_id=load_event("session_compaction_needed")["detail"]["session_id"],
        world_id="demo",
        participants=[MIRA],
        message_count=count,
        summary="They met.",
    )
    return MemoryStore(head, {s: Message(seq=s, speaker=MIRA, text=f"line {s}") for s in range(1, count + 1)})


def _summarize(store: MemoryStore, summarizer: RecordingSummarizer) -> dict[str, Any]:
    answer: dict[str, Any] = invoke(
        "session-summarizer",
        load_event("session_compaction_needed"),
        store=store,
        summarizer=summarizer,
        policy=SessionPolicy(),
    )
    return answer


def test_the_summarizer_compacts_the_session_the_event_names() -> None:
    # Given a session whose hot part reached the threshold (200)
    store, summarizer = _session(200), RecordingSummarizer()

    # When the event is delivered
    answer = _summarize(store, summarizer)

    # Then the oldest whole chunk left the hot part under a summary that covers it
    assert answer["compacted"] is True
    assert [(c.first_seq, c.last_seq) for c in store.chunks] == [(1, 100)]
    assert sorted(store.hot) == list(range(101, 201))
    assert (store.head.tier, store.head.compacted_through, store.head.summary_through) == (
        StorageTier.WARM,
        100,
        100,
    )
    assert store.head.summary == "They met. then 100 more lines."


def test_a_redelivered_compaction_event_pays_for_no_second_summary() -> None:
    store, summarizer = _session(200), RecordingSummarizer()
    _summarize(store, summarizer)

    again = _summarize(store, summarizer)

    assert again["compacted"] is False
    assert len(summarizer.calls) == 1
    assert [(c.first_seq, c.last_seq) for c in store.chunks] == [(1, 100)]


def test_a_summary_that_fails_fails_the_delivery_for_a_retry_and_moves_nothing() -> None:
    store, summarizer = _session(200), RecordingSummarizer(fails=True)
    with pytest.raises(ModelUnavailable):
        _summarize(store, summarizer)
    assert (store.chunks, store.lease, len(store.hot)) == ([], None, 200)
