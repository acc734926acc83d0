"""Who waits for the local model, and for how long: the model does only work someone waits for.

The model has one worker (a laptop's CPU runs one generation at a time). In front of it:
- a bounded wait: past `max_waiting` requests waiting, a new one is refused at once with SageMaker's
  `ThrottlingException`, so the router falls back now instead of at its deadline;
- deadlines: a request carries its first-token deadline (the `deadline_ms=<unix ms>` custom
  attribute, `X-Amzn-SageMaker-Custom-Attributes`); one whose deadline passed while it waited is
  dropped, never started: its caller has already given up on it;
- bookkeeping of the worker's time: busy, and wasted (spent on answers whose reader left before the
  end), which `GET /_aicore/stats` reports and `bench.overload` reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

CUSTOM_ATTRIBUTES_HEADER = "X-Amzn-SageMaker-Custom-Attributes"
DEADLINE_ATTRIBUTE = "deadline_ms"
DEFAULT_MAX_WAITING = 8


class Throttled(Exception):
    """Too many requests wait already: answered at once, so the caller can fall back."""


class DeadlinePassed(Exception):
    """The request's deadline passed while it waited: it was never started."""


class QueueStats(BaseModel):
    served: int = 0
    throttled: int = 0
    dropped_past_deadline: int = 0
    abandoned: int = 0  # started, then the reader left before the end
    busy_s: float = 0.0
    wasted_s: float = 0.0  # busy time of the abandoned ones

    @property
    def wasted_share(self) -> float:
        return self.wasted_s / self.busy_s if self.busy_s else 0.0


def deadline_of(custom_attributes: str | None) -> float | None:
    """The unix time (seconds) in `deadline_ms=<unix ms>` among `k=v;k=v` custom attributes, if any."""
    for attribute in (custom_attributes or "").split(";"):
        key, _, value = attribute.strip().partition("=")
        if key == DEADLINE_ATTRIBUTE and value.isascii() and value.isdigit() and len(value) <= 16:
            return int(value) / 1000
    return None


@dataclass
class Ticket:
    """A request's place in the queue: `start` when the worker takes it, `finish` when it is done."""

    queue: ModelQueue
    deadline: float | None
    started: float | None = None

    def start(self) -> None:
        """Called on the worker when it is this request's turn; raises `DeadlinePassed` to drop it."""
        self.queue._take(self)

    def finish(self, abandoned: bool) -> None:
        self.queue._done(self, abandoned)


class ModelQueue:
    def __init__(
        self, max_waiting: int = DEFAULT_MAX_WAITING, clock: Callable[[], float] = time.time
    ) -> None:
        self._max_waiting, self._clock = max_waiting, clock
        self._lock = threading.Lock()
        self._waiting = 0
        self.stats = QueueStats()

    def admit(self, deadline: float | None) -> Ticket:
        """A place in the queue, or `Throttled` at once when too many wait already."""
        with self._lock:
            if self._waiting >= self._max_waiting:
                self.stats.throttled += 1
                raise Throttled(f"{self._waiting} requests already wait for the model")
            self._waiting += 1
        return Ticket(self, deadline)

    def _take(self, ticket: Ticket) -> None:
        with self._lock:
            self._waiting -= 1
            if ticket.deadline is not None and self._clock() >= ticket.deadline:
                self.stats.dropped_past_deadline += 1
                raise DeadlinePassed("the request's deadline passed before the model could start it")
            ticket.started = self._clock()

    def _done(self, ticket: Ticket, abandoned: bool) -> None:
        if ticket.started is None:
            return
        spent = max(0.0, self._clock() - ticket.started)
        with self._lock:
            self.stats.served += 1
            self.stats.busy_s += spent
            if abandoned:
                self.stats.abandoned += 1
                self.stats.wasted_s += spent
