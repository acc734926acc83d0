"""Virtual time for code that waits with deadlines: exact durations, no real waiting, no flakes.

`VirtualTime` is both halves of what the router injects (`aicore.llm.router.Router(clock=, wait=)`):
its clock reads the virtual now, and its wait takes a stream's next item. Time moves only when a
test calls `advance` or when a fake stream pauses: a fake yields `Pause(seconds)` among its
deltas (`Pause(math.inf)`: silent for good). The wait consumes a pause within its timeout by moving
the clock on; a pause longer than the timeout moves the clock to the timeout and raises
`queue.Empty`, as a real wait would, and what is left of it greets the next wait on that stream.

Between pauses the fake's deltas come as fast as its thread runs: a busy machine changes no
outcome and no measured duration.
"""

from __future__ import annotations

import math
import queue
import threading
from typing import TypeVar
from weakref import WeakKeyDictionary

T = TypeVar("T")

REAL_WAIT_S = 30.0  # a fake that yields nothing (not even a pause) for this long is broken


class Pause(str):
    """A stretch of virtual silence in a fake stream (an empty string to any type checker)."""

    seconds: float

    def __new__(cls, seconds: float) -> Pause:
        pause = super().__new__(cls, "")
        pause.seconds = seconds
        return pause

    def __repr__(self) -> str:
        return f"Pause({self.seconds})"


SILENCE = Pause(math.inf)


class VirtualTime:
    """A monotonic clock in seconds that only tests and fake streams move."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.now_s = start_s
        self._lock = threading.Lock()
        self._left: WeakKeyDictionary[object, Pause] = (
            WeakKeyDictionary()
        )  # per stream, what is left of a pause

    def __call__(self) -> float:
        with self._lock:
            return self.now_s

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now_s += seconds

    def wait(self, items: queue.SimpleQueue[T], timeout_s: float) -> T:
        """The next item that is not a pause, within `timeout_s` of virtual time (else `queue.Empty`)."""
        with self._lock:
            deadline = self.now_s + max(timeout_s, 0.0)
        while True:
            with self._lock:
                left = self._left.pop(items, None)
            item: T | Pause = left if left is not None else _get(items)
            if not isinstance(item, Pause):
                return item
            with self._lock:
                if self.now_s + item.seconds <= deadline:
                    self.now_s += item.seconds
                    continue
                self._left[items] = Pause(item.seconds - (deadline - self.now_s))
                self.now_s = deadline
            raise queue.Empty


def _get(items: queue.SimpleQueue[T]) -> T:
    try:
        return items.get(timeout=REAL_WAIT_S)
    except queue.Empty:
        raise AssertionError(f"the fake stream sent nothing, not even a pause, in {REAL_WAIT_S} s") from None
