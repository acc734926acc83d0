"""Schedules, locally: each topology `Schedule` invokes its function on its rate, as Scheduler does.

The event is the input `cdk/` gives the schedule's Lambda target: `{"schedule": name,
"environment": env}`. A schedule's first tick comes one period after start; `fire` runs one now
(tests, the console), on the caller's thread, and returns what the handler returned. The wait
between ticks is injected (`wait`), so tests count ticks without waiting for them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aicore.local.lambdas import Lambdas
from aicore.local.stopping import Deadline, join_threads
from aicore.observability import logger
from aicore.topology import TOPOLOGY, Schedule, Topology


@dataclass(frozen=True)
class ScheduledTarget:
    schedule: Schedule
    function: str


def scheduled_targets(topology: Topology = TOPOLOGY) -> list[ScheduledTarget]:
    return [ScheduledTarget(s, fn.name) for fn in topology.functions for s in fn.schedules]


def schedule_event(schedule: Schedule, env: str) -> dict[str, Any]:
    return {"schedule": schedule.name, "environment": env}


Wait = Callable[[threading.Event, float], bool]
"""Waits up to `seconds` for `stop`; True when it was set (the schedule then ends)."""


def wait_for_stop(stop: threading.Event, seconds: float) -> bool:
    return stop.wait(seconds)


class ScheduleTicker:
    def __init__(
        self,
        lambdas: Lambdas,
        env: str,
        topology: Topology = TOPOLOGY,
        wait: Wait = wait_for_stop,
    ) -> None:
        self._lambdas = lambdas
        self._env = env
        self._targets = {t.schedule.name: t for t in scheduled_targets(topology)}
        self._wait = wait
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._tick, args=(t,), name=f"schedule-{name}", daemon=True)
            for name, t in self._targets.items()
        ]

    @property
    def names(self) -> list[str]:
        return list(self._targets)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, deadline: Deadline | None = None) -> bool:
        """Stop ticking; a tick whose handler is still running is waited for until the deadline."""
        self._stop.set()
        late = join_threads(self._threads, deadline or Deadline.after(5))
        if late:
            logger.warning("Schedules still running at stop: abandoned", extra={"schedules": late})
        return not late

    def fire(self, name: str) -> Any:
        """Run schedule `name` once, now."""
        target = self._targets.get(name)
        if target is None:
            raise KeyError(f"no schedule {name!r}: known are {', '.join(self._targets) or 'none'}")
        return self._lambdas.invoke(target.function, schedule_event(target.schedule, self._env))

    def _tick(self, target: ScheduledTarget) -> None:
        period_s = target.schedule.rate_minutes * 60.0
        while not self._wait(self._stop, period_s):
            try:
                self.fire(target.schedule.name)
            except Exception:  # Scheduler retries and then dead-letters; locally the next tick retries
                logger.exception("Scheduled invocation failed", extra={"schedule": target.schedule.name})
