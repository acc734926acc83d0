"""The tests' own notions of time: `eventually` (waiting on outcomes) and `VirtualTime` (deadlines)."""

from __future__ import annotations

import math
import queue

import pytest

from tests.virtual_time import Pause, VirtualTime
from tests.waiting import eventually


def test_eventually_returns_the_first_truthy_answer() -> None:
    answers = iter([None, 0, "", 42, 43])
    assert eventually(lambda: next(answers), timeout_s=30, what="an answer") == 42
    assert next(answers) == 43  # asked no more than needed


def test_eventually_names_what_did_not_happen_and_the_last_answer() -> None:
    with pytest.raises(AssertionError, match=r"the archive: did not happen within 0 s \(last seen: False\)"):
        eventually(lambda: False, timeout_s=0, what="the archive")


def test_eventually_lets_a_failing_check_fail() -> None:
    def broken() -> bool:
        raise KeyError("no such table")

    with pytest.raises(KeyError, match="no such table"):
        eventually(broken, timeout_s=30, what="a read")


def _stream(*items: str) -> queue.SimpleQueue[str]:
    stream: queue.SimpleQueue[str] = queue.SimpleQueue()
    for item in items:
        stream.put(item)
    return stream


def test_a_pause_within_the_timeout_moves_the_clock_and_the_item_comes() -> None:
    time = VirtualTime(start_s=0.0)
    assert time.wait(_stream(Pause(0.25), "hello"), timeout_s=1.0) == "hello"
    assert time() == 0.25


def test_a_pause_past_the_timeout_times_out_at_the_timeout_and_its_rest_stays() -> None:
    # Given a stream that is silent for 1 s before its item
    time = VirtualTime(start_s=0.0)
    stream = _stream(Pause(1.0), "late")

    # When the reader waits 0.25 s, then 0.5 s: both time out, each at its own timeout
    with pytest.raises(queue.Empty):
        time.wait(stream, timeout_s=0.25)
    assert time() == 0.25
    with pytest.raises(queue.Empty):
        time.wait(stream, timeout_s=0.5)
    assert time() == 0.75

    # Then a wait long enough sees the item when the pause ends, 1 s after it began
    assert time.wait(stream, timeout_s=10) == "late"
    assert time() == 1.0


def test_silence_never_ends_and_advance_moves_the_clock() -> None:
    time = VirtualTime(start_s=5.0)
    with pytest.raises(queue.Empty):
        time.wait(_stream(Pause(math.inf)), timeout_s=3600)
    time.advance(0.5)
    assert time() == 3605.5
