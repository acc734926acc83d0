"""The request ledger's contract, on the fake the unit tests use and on the DynamoDB adapter (moto
server): claims of `npc.say` request ids, and the interrupt mark `npc.interrupt` sets on them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from aicore.aws.request_ledger import DynamoRequestLedger
from aicore.npc.claims import RequestLedger, RequestRecord
from aicore.topology import physical_name
from tests.protocol_fakes import FakeRequestLedger

NOW_S = 2_000_000_000
WINDOW_S = 600


@pytest.fixture(params=["fake", "dynamodb"])
def ledger(request: pytest.FixtureRequest) -> Iterator[RequestLedger]:
    if request.param == "fake":
        yield FakeRequestLedger()
        return
    request.getfixturevalue("runtime")
    yield DynamoRequestLedger(physical_name("local", "connections"))


@pytest.fixture
def owner() -> str:
    return f"demo#p-{uuid.uuid4().hex[:8]}"


def _working(in_flight_until: int = NOW_S + 90) -> RequestRecord:
    return RequestRecord(state="in_progress", fingerprint="f" * 64, in_flight_until=in_flight_until)


def test_a_claim_in_flight_is_marked_once_and_the_mark_outlives_its_completion(
    ledger: RequestLedger, owner: str
) -> None:
    assert ledger.claim(owner, "r-1", _working(), NOW_S, NOW_S + WINDOW_S) is None
    assert ledger.interrupt_requested(owner, "r-1") is False

    marked = ledger.interrupt(owner, "r-1", NOW_S)
    again = ledger.interrupt(owner, "r-1", NOW_S)

    assert marked is not None
    assert again is not None
    assert (marked.state, marked.interrupted, again.interrupted) == ("in_progress", True, True)
    assert ledger.interrupt_requested(owner, "r-1") is True
    # The turn, having missed the mark, completes as not interrupted: the mark stays
    done = _working().model_copy(update={"state": "completed", "reply": '{"text": "Well"}'})
    ledger.complete(owner, "r-1", done, NOW_S + WINDOW_S)
    after = ledger.interrupt(owner, "r-1", NOW_S + 1)
    assert after is not None
    assert (after.state, after.reply, after.interrupted) == ("completed", '{"text": "Well"}', True)
    # ... and a repeat of the npc.say finds the completed claim
    held = ledger.claim(owner, "r-1", _working(), NOW_S + 2, NOW_S + WINDOW_S)
    assert held is not None
    assert (held.state, held.interrupted) == ("completed", True)


def test_a_completed_claim_is_not_marked(ledger: RequestLedger, owner: str) -> None:
    assert ledger.claim(owner, "r-1", _working(), NOW_S, NOW_S + WINDOW_S) is None
    done = _working().model_copy(update={"state": "completed", "reply": "{}"})
    ledger.complete(owner, "r-1", done, NOW_S + WINDOW_S)

    answer = ledger.interrupt(owner, "r-1", NOW_S + 1)

    assert answer is not None
    assert (answer.state, answer.interrupted) == ("completed", False)
    assert ledger.interrupt_requested(owner, "r-1") is False


def test_no_claim_an_expired_one_or_a_dead_run_is_never_marked(ledger: RequestLedger, owner: str) -> None:
    assert ledger.interrupt(owner, "never-sent", NOW_S) is None
    assert ledger.claim(owner, "r-1", _working(), NOW_S, NOW_S + WINDOW_S) is None
    assert ledger.interrupt(f"{owner}-other", "r-1", NOW_S) is None  # another player's
    assert ledger.interrupt_requested(owner, "r-1") is False
    assert ledger.claim(owner, "old", _working(), NOW_S, NOW_S + 5) is None
    assert ledger.interrupt(owner, "old", NOW_S + 5) is None
    assert ledger.claim(owner, "dead", _working(in_flight_until=NOW_S), NOW_S - 90, NOW_S + WINDOW_S) is None

    dead = ledger.interrupt(owner, "dead", NOW_S)

    assert dead is not None
    assert dead.interrupted is False
    assert ledger.interrupt_requested(owner, "dead") is False
    assert ledger.interrupt_requested(owner, "never-sent") is False
