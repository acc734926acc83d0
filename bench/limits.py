"""What a turn budget costs a turn: AWS calls and milliseconds per `TurnLimiter.take`, on moto
server (each call there costs ~6 ms of botocore + moto CPU; in AWS a DynamoDB UpdateItem is a
few ms of network), for the cases a deployment sees, and the limiter's own CPU per turn.

    python -m bench.limits
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aicore.auth import Caller
from aicore.aws.turn_budgets import DynamoBudgetStore
from aicore.errors import RateLimited
from aicore.local.embedded_aws import EmbeddedAws, create_resources
from aicore.platform.limits import TurnLimiter
from aicore.platform.settings import SettingsCache, TurnBudget, TurnLimits
from aicore.topology import physical_name
from bench.common import CallCounter, machine, write_report
from tests.platform_fakes import FakeBudgetStore, roomy_settings

ENV = "bench-limits"
TURNS = 200
LIMITS = TurnLimits(player=TurnBudget(per_minute=30, burst=10), connection=TurnBudget(per_minute=20, burst=8))


class Moment:
    def __init__(self) -> None:
        self.value = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.value


def _measure(counter: CallCounter, turns: int, take: Callable[[int], None]) -> dict[str, Any]:
    times, refused = [], 0
    with counter.counting() as calls:
        for i in range(turns):
            started = time.perf_counter()
            try:
                take(i)
            except RateLimited:
                refused += 1
            times.append((time.perf_counter() - started) * 1000)
    return {
        "turns": turns,
        "refused": refused,
        "aws_calls_per_turn": round(sum(calls.values()) / turns, 3),
        "calls": dict(calls),
        "ms_median": round(statistics.median(times), 3),
        "ms_p90": round(statistics.quantiles(times, n=10)[-1], 3),
    }


def on_moto() -> dict[str, Any]:
    server = EmbeddedAws()
    credentials = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    os.environ.update(credentials, AWS_DEFAULT_REGION="us-east-1")
    url = server.start()
    os.environ["AWS_ENDPOINT_URL"] = url
    try:
        create_resources(url, ENV)
        store = DynamoBudgetStore(physical_name(ENV, "connections"))
        counter = CallCounter()
        moment = Moment()
        one = TurnLimiter(store, moment)
        two = [TurnLimiter(store, moment), TurnLimiter(store, moment)]

        def human(i: int) -> None:  # a player every 5 s: the bucket is idle at each turn
            moment.value += timedelta(seconds=5)
            one.take(Caller(subject="human", world_id="demo"), "c-human", LIMITS)

        def burst(i: int) -> None:  # 1 turn per second on one container: busy, within the burst at first
            moment.value += timedelta(seconds=1)
            one.take(Caller(subject="burst", world_id="demo"), "c-burst", LIMITS)

        def alternating(i: int) -> None:  # a turn every 2 s, landing on two containers by turns
            moment.value += timedelta(seconds=2)
            two[i % 2].take(Caller(subject="alt", world_id="demo"), "c-alt", LIMITS)

        def flood(i: int) -> None:  # 10 turns a second: most refused, by what the container knows
            moment.value += timedelta(milliseconds=100)
            one.take(Caller(subject="flood", world_id="demo"), "c-flood", LIMITS)

        return {
            "one_container_player_every_5s": _measure(counter, TURNS, human),
            "one_container_turn_every_1s": _measure(counter, TURNS, burst),
            "two_containers_alternating_every_2s": _measure(counter, TURNS, alternating),
            "flood_10_per_s": _measure(counter, TURNS, flood),
        }
    finally:
        server.stop()


def in_process() -> dict[str, Any]:
    """The limiter's and the settings cache's own CPU per turn (an in-memory store)."""
    limiter, settings = TurnLimiter(FakeBudgetStore()), SettingsCache(roomy_settings())
    players = [Caller(subject=f"p{i}", world_id="demo") for i in range(1000)]
    started = time.perf_counter()
    for i in range(20_000):
        limiter.take(players[i % 1000], f"c{i % 1000}", settings.for_world("demo").limits)
    return {"us_per_turn": round((time.perf_counter() - started) * 1e6 / 20_000, 2)}


def main() -> None:
    write_report("limits", {"machine": machine(), "moto": on_moto(), "in_process": in_process()})


if __name__ == "__main__":
    main()
