"""The one way a test waits for something to happen: `eventually(predicate, timeout_s=..., what=...)`.

A test never sleeps a fixed time and never asserts how long something took: it waits for an
outcome, with a deadline that only bounds a failure (a busy machine makes it slower, not red).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

FIRST_POLL_S = 0.01
LONGEST_POLL_S = 0.25


def eventually(predicate: Callable[[], T | None], *, timeout_s: float, what: str) -> T:
    """Calls `predicate` until it returns something truthy, and returns that.

    Polls soon at first and then less often (up to every `LONGEST_POLL_S`), so a quick outcome is
    seen at once and a slow one costs little CPU. Raises AssertionError naming `what` (and the
    last value seen) when `timeout_s` passes first. Exceptions from `predicate` propagate: a read
    that fails is a failure, not a reason to wait.
    """
    deadline = time.monotonic() + timeout_s
    pause = FIRST_POLL_S
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: did not happen within {timeout_s} s (last seen: {value!r})")
        time.sleep(pause)
        pause = min(pause * 2, LONGEST_POLL_S)


def finished_execution(stepfunctions: Any, execution_arn: str, *, timeout_s: float) -> dict[str, Any]:
    """A Step Functions execution once it has ended (`describe_execution`'s answer), whatever its status."""

    def described_when_ended() -> dict[str, Any] | None:
        described: dict[str, Any] = stepfunctions.describe_execution(executionArn=execution_arn)
        return described if described["status"] != "RUNNING" else None

    return eventually(described_when_ended, timeout_s=timeout_s, what=f"execution {execution_arn} ending")
