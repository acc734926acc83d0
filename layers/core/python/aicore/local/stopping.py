"""Stopping `aicore local`: a stop signal always wakes the main thread, and every stop is bounded.

Python runs a signal handler only in the main thread, and only when that thread executes
bytecode. The kernel may hand SIGTERM to any thread that does not block it: a main thread parked
in an untimed wait then never notices. So the main thread waits in short slices (each wakeup
runs any handler that is due), and the runtime's own threads block the stop signals (they
inherit the mask of the thread that starts them), so the kernel hands the signal to the main
thread in the first place.

    with StopSignals() as signals:
        with signals.blocked():
            runtime.start()          # every thread started here blocks SIGINT/SIGTERM
        signals.wait()               # returns the signal's number
    runtime.stop(timeout_s=20)       # each part gets what is left of one deadline
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import wait as wait_for_futures
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
WAKE_EVERY_S = 0.25
MIN_SLICE_S = 0.1


@dataclass(frozen=True)
class Deadline:
    """One bound shared by several steps: each step gets what is left (at least a short slice)."""

    at: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    def left(self, minimum: float = MIN_SLICE_S) -> float:
        """Seconds left, but never less than `minimum`: a late step still gets to signal its threads."""
        return max(self.at - self.clock(), minimum)

    @property
    def passed(self) -> bool:
        return self.clock() >= self.at


def join_threads(threads: Iterable[threading.Thread], deadline: Deadline) -> list[str]:
    """Join each thread within the deadline; the names of those still running."""
    late = []
    for thread in threads:
        if thread.ident is not None:
            thread.join(deadline.left())
        if thread.is_alive():
            late.append(thread.name)
    return late


def wait_futures(futures: Iterable[Future[Any]], deadline: Deadline) -> int:
    """Wait for work in flight within the deadline; how many are still running."""
    _, running = wait_for_futures(list(futures), timeout=deadline.left())
    return len(running)


class StopSignals:
    """Catches SIGINT and SIGTERM for the main thread, whichever thread the kernel delivers them to."""

    def __init__(
        self,
        signals: Iterable[signal.Signals] = STOP_SIGNALS,
        *,
        wake_every_s: float = WAKE_EVERY_S,
        on_repeat: Callable[[int], None] | None = None,
    ) -> None:
        self._signals = tuple(signals)
        self._wake_every_s = wake_every_s
        self._on_repeat = on_repeat  # a second signal while stopping: e.g. give up and exit now
        self._received: list[int] = []
        self._arrived = threading.Event()
        self.waiting = threading.Event()  # set once the main thread waits (tests deliver signals then)
        self._previous: dict[signal.Signals, Any] = {}

    def __enter__(self) -> StopSignals:
        for sig in self._signals:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    @contextmanager
    def blocked(self) -> Iterator[None]:
        """Block the stop signals while threads are started, so that none of them receives one.

        A signal that arrives meanwhile stays pending and is handled when the block ends.
        """
        if not hasattr(signal, "pthread_sigmask"):  # Windows: the timed wait alone does the job
            yield
            return
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, self._signals)
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def wait(self, timeout_s: float | None = None) -> int | None:
        """Block until a stop signal came (its number) or `timeout_s` passed (None).

        Waits in slices: each wakeup lets the interpreter run a handler that another thread's
        signal left pending.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self.waiting.set()
        while not self._arrived.wait(self._wake_every_s):
            if deadline is not None and time.monotonic() >= deadline:
                return None
        return self._received[0]

    @property
    def count(self) -> int:
        return len(self._received)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._received.append(signum)
        self._arrived.set()
        if len(self._received) > 1 and self._on_repeat is not None:
            self._on_repeat(signum)
