"""The platform's DynamoDB adapters on moto server: settings documents (If-Match, audit) and turn
budgets (one conditional UpdateItem per turn, shared by two limiters as by two containers)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from aicore.auth import Caller, Role
from aicore.aws.settings_store import DynamoSettingsStore
from aicore.aws.turn_budgets import DynamoBudgetStore
from aicore.errors import Conflict, RateLimited
from aicore.local.embedded_aws import EmbeddedAws, create_resources
from aicore.performance import PerformanceMode
from aicore.platform.limits import TurnLimiter
from aicore.platform.settings import (
    SettingsCache,
    SettingsDeps,
    TurnBudget,
    TurnLimits,
    WorldSettings,
    change_world,
    settings_audit,
    world_scope,
)
from aicore.topology import physical_name

ENV = "platform-it"
STUDIO = Caller(subject="tools", world_id="demo", roles=(Role.STUDIO,))
PLAYER = Caller(subject="p1", world_id="demo")
OTHER = Caller(subject="p2", world_id="demo")
LIMITS = TurnLimits(player=TurnBudget(per_minute=6, burst=3), connection=TurnBudget(per_minute=60, burst=10))


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    server = EmbeddedAws()
    with pytest.MonkeyPatch.context() as env:
        env.delenv("AWS_PROFILE", raising=False)
        for name, value in (
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ):
            env.setenv(name, value)
        url = server.start()
        env.setenv("AWS_ENDPOINT_URL", url)
        create_resources(url, ENV)
        yield url
        server.stop()


@dataclass
class Moment:
    value: datetime

    def __call__(self) -> datetime:
        return self.value


def test_settings_are_versioned_and_audited_in_dynamodb(moto: str) -> None:
    store = DynamoSettingsStore(physical_name(ENV, "settings"))
    deps = SettingsDeps(store)

    first = change_world(deps, STUDIO, "demo", WorldSettings(performance_mode=PerformanceMode.FAST), 0)
    with pytest.raises(Conflict) as stale:
        change_world(deps, STUDIO, "demo", WorldSettings(), 0)
    second = change_world(deps, STUDIO, "demo", WorldSettings(limits=LIMITS), 1)

    assert (first.version, second.version, stale.value.details) == (1, 2, {"current_version": 1})
    effective = SettingsCache(store).for_world("demo")
    assert (effective.performance_mode, effective.limits) == (PerformanceMode.BALANCED, LIMITS)
    entries = settings_audit(store, STUDIO, world_scope("demo"), None)
    assert [(e.version, [c.field for c in e.changes]) for e in entries] == [
        (2, ["limits", "performance_mode"]),
        (1, ["performance_mode"]),
    ]


def test_concurrent_writers_of_one_version_one_wins(moto: str) -> None:
    # Given eight studio tools that all create the same world's settings at once
    deps = SettingsDeps(DynamoSettingsStore(physical_name(ENV, "settings")))
    racer = Caller(subject="tools", world_id="race", roles=(Role.STUDIO,))

    def write(i: int) -> bool:
        try:
            change_world(deps, racer, "race", WorldSettings(token_frame_interval_ms=i), 0)
        except Conflict:
            return False
        return True

    # Then exactly one creates them
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sorted(pool.map(write, range(8))) == [False] * 7 + [True]


def test_two_containers_share_a_players_budget_in_dynamodb(moto: str) -> None:
    # Given two containers' limiters over the connections table, on one clock
    store = DynamoBudgetStore(physical_name(ENV, "connections"))
    moment = Moment(datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    first, second = TurnLimiter(store, moment), TurnLimiter(store, moment)
    # When the player's turns land on either
    first.take(PLAYER, "c1", LIMITS)
    second.take(PLAYER, "c1", LIMITS)  # a wrong guess (idle): refused by the condition, then written
    first.take(PLAYER, "c2", LIMITS)
    # Then the fourth is refused on both, with the time until the bucket has room
    for limiter in (second, first):
        with pytest.raises(RateLimited) as refused:
            limiter.take(PLAYER, "c1", LIMITS)
        assert refused.value.details == {"retry_after_ms": 10_000}
    second.take(OTHER, "c3", LIMITS)  # another player is not affected
    moment.value += timedelta(seconds=10)
    second.take(PLAYER, "c1", LIMITS)
