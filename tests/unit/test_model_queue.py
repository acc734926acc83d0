"""The local model's queue: bounded waiting, deadlines honoured, its time accounted for."""

from __future__ import annotations

import pytest

from aicore.local.model_queue import DeadlinePassed, ModelQueue, Throttled, deadline_of


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_past_the_waiting_bound_a_request_is_throttled_at_once() -> None:
    queue = ModelQueue(max_waiting=2, clock=Clock())
    first, _ = queue.admit(None), queue.admit(None)
    with pytest.raises(Throttled):
        queue.admit(None)
    first.start()  # one leaves the queue for the worker: there is room again
    queue.admit(None)
    assert queue.stats.throttled == 1


def test_a_request_whose_deadline_passed_while_it_waited_is_never_started() -> None:
    clock = Clock()
    queue = ModelQueue(clock=clock)
    late, on_time = queue.admit(deadline=1_000.5), queue.admit(deadline=1_010.0)
    clock.now = 1_001.0
    with pytest.raises(DeadlinePassed):
        late.start()
    on_time.start()
    late.finish(abandoned=False)  # a dropped request costs the worker nothing
    assert queue.stats.dropped_past_deadline == 1
    assert queue.stats.busy_s == 0.0


def test_time_spent_on_answers_nobody_read_to_the_end_is_wasted() -> None:
    clock = Clock()
    queue = ModelQueue(clock=clock)
    read, left = queue.admit(None), queue.admit(None)
    read.start()
    clock.now += 2.0
    read.finish(abandoned=False)
    left.start()
    clock.now += 1.0
    left.finish(abandoned=True)
    assert (queue.stats.busy_s, queue.stats.wasted_s, queue.stats.abandoned) == (3.0, 1.0, 1)
    assert queue.stats.wasted_share == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("attributes", "deadline"),
    [
        ("deadline_ms=1700000000123", 1_700_000_000.123),
        ("trace=1; deadline_ms=5000", 5.0),
        (None, None),
        ("deadline_ms=-5", None),
        ("deadline_ms=\uff11\uff12", None),  # fullwidth digits are not ASCII digits
        ("deadline_ms=" + "9" * 40, None),
    ],
)
def test_the_deadline_is_read_strictly_from_the_custom_attributes(
    attributes: str | None, deadline: float | None
) -> None:
    assert deadline_of(attributes) == deadline
