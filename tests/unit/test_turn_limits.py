"""Turn budgets: token buckets per player and per connection, shared by every container (two
limiters on one store stand for two Lambda containers), on a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aicore.auth import Caller, Role
from aicore.errors import RateLimited
from aicore.platform.limits import TurnLimiter
from aicore.platform.settings import (
    GLOBAL_SCOPE,
    GlobalSettings,
    SettingsCache,
    StoredSettings,
    TurnBudget,
    TurnLimits,
    WorldSettings,
    world_scope,
)
from tests.fakes import ScriptedEndpoint
from tests.npc_turns import PLAYER, say, turn_deps
from tests.platform_fakes import FakeBudgetStore, FakeSettingsStore

OTHER = Caller(subject="p2", world_id="demo")
STUDIO = Caller(subject="tools", world_id="demo", roles=(Role.STUDIO,))
# 6 a minute (one per 10 s), 3 at once; a connection alone: 60 a minute, 2 at once
LIMITS = TurnLimits(player=TurnBudget(per_minute=6, burst=3), connection=TurnBudget(per_minute=60, burst=2))


class Moment:
    def __init__(self) -> None:
        self.value = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.value

    def move(self, seconds: float) -> None:
        self.value += timedelta(seconds=seconds)


def _limiters(count: int) -> tuple[list[TurnLimiter], FakeBudgetStore, Moment]:
    store, moment = FakeBudgetStore(), Moment()
    return [TurnLimiter(store, moment) for _ in range(count)], store, moment


def test_a_player_over_budget_is_refused_with_retry_after_and_another_is_not() -> None:
    [limiter], _, moment = _limiters(1)
    wide = TurnLimits(player=LIMITS.player, connection=TurnBudget(per_minute=600, burst=100))
    for _ in range(3):
        limiter.take(PLAYER, "c1", wide)

    with pytest.raises(RateLimited) as refused:
        limiter.take(PLAYER, "c1", wide)
    limiter.take(OTHER, "c2", wide)  # another player's budget is their own

    # the bucket of 3 is full 3 turns ahead at 10 s each: the next fits once the first has drained
    assert refused.value.details == {"retry_after_ms": 10_000}
    moment.move(10)
    limiter.take(PLAYER, "c1", wide)


def test_the_budget_counts_across_two_containers() -> None:
    # Given two containers (limiters) over one store
    (first, second), store, moment = _limiters(2)
    wide = TurnLimits(player=LIMITS.player, connection=TurnBudget(per_minute=600, burst=100))
    # When the player's turns land on either, alternately
    first.take(PLAYER, "c1", wide)
    second.take(PLAYER, "c1", wide)
    first.take(PLAYER, "c1", wide)
    # Then the fourth is refused wherever it lands, though each container saw at most two
    with pytest.raises(RateLimited):
        second.take(PLAYER, "c1", wide)
    with pytest.raises(RateLimited):
        first.take(PLAYER, "c1", wide)
    assert store.items["BUDGET#demo#p1"]["player"] == int(moment().timestamp() * 1000) + 30_000


def test_a_connection_has_its_own_smaller_budget() -> None:
    [limiter], _, _ = _limiters(1)
    limiter.take(PLAYER, "c1", LIMITS)
    limiter.take(PLAYER, "c1", LIMITS)
    with pytest.raises(RateLimited) as refused:
        limiter.take(PLAYER, "c1", LIMITS)
    limiter.take(PLAYER, "c2", LIMITS)  # the player's third turn, on another connection
    assert refused.value.details == {"retry_after_ms": 1_000}


def test_a_refused_turn_spends_nothing() -> None:
    [limiter], store, _ = _limiters(1)
    for _ in range(2):
        limiter.take(PLAYER, "c1", LIMITS)
    before = dict(store.items["BUDGET#demo#p1"])
    with pytest.raises(RateLimited):
        limiter.take(PLAYER, "c1", LIMITS)
    assert store.items["BUDGET#demo#p1"] == before


def test_one_write_per_turn_when_the_container_knows_the_bucket_and_none_to_refuse() -> None:
    [limiter], store, moment = _limiters(1)
    wide = TurnLimits(player=LIMITS.player, connection=TurnBudget(per_minute=600, burst=100))
    for _ in range(3):  # idle, then busy twice: the container guesses right each time
        limiter.take(PLAYER, "c1", wide)
    assert store.calls == 3
    with pytest.raises(RateLimited):
        limiter.take(PLAYER, "c1", wide)
    assert store.calls == 3  # it knew the bucket was spent: no call
    moment.move(60)
    limiter.take(PLAYER, "c1", wide)
    assert store.calls == 4


def test_a_wrong_guess_costs_one_more_write_never_a_lost_turn() -> None:
    # Given a container that never saw this player, whose bucket another container filled
    (first, second), store, _ = _limiters(2)
    wide = TurnLimits(player=LIMITS.player, connection=TurnBudget(per_minute=600, burst=100))
    first.take(PLAYER, "c1", wide)
    # When the second container takes a turn (it guesses idle: wrong)
    second.take(PLAYER, "c1", wide)
    # Then it wrote again with the right guess: two calls, two turns counted
    assert store.calls == 3
    assert store.items["BUDGET#demo#p1"]["player"] - int(Moment()().timestamp() * 1000) == 20_000


def test_studios_and_admins_are_not_counted() -> None:
    [limiter], store, _ = _limiters(1)
    for _ in range(50):
        limiter.take(STUDIO, "c1", LIMITS)
    assert store.calls == 0


def _settings_with(world_limits: TurnLimits) -> FakeSettingsStore:
    store = FakeSettingsStore()
    roomy = TurnBudget(per_minute=600, burst=100)
    store.documents[GLOBAL_SCOPE] = StoredSettings(
        scope=GLOBAL_SCOPE,
        version=1,
        values=GlobalSettings(limits=TurnLimits(player=roomy, connection=roomy)).model_dump(mode="json"),
    )
    store.documents[world_scope("demo")] = StoredSettings(
        scope=world_scope("demo"),
        version=1,
        values=WorldSettings(limits=world_limits).model_dump(mode="json"),
    )
    return store


def _of(pusher: Any, kind: str) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = pusher.of_type(kind)
    return frames


def test_the_turn_answers_rate_limited_before_any_model_work_per_the_worlds_limits() -> None:
    # Given a world whose settings allow 2 turns at once per player
    tight = TurnLimits(
        player=TurnBudget(per_minute=6, burst=2), connection=TurnBudget(per_minute=60, burst=10)
    )
    endpoint = ScriptedEndpoint()
    deps = turn_deps(endpoint=endpoint, settings=_settings_with(tight))
    deps.limiter = TurnLimiter(FakeBudgetStore(), Moment())
    say(deps)
    say(deps)
    # When the player speaks a third time at once
    pusher = say(deps, text="And now?")
    # Then an error frame says rate_limited with retry_after_ms; nothing more reached the model
    [error] = _of(pusher, "error")
    assert error["error"]["code"] == "rate_limited"
    assert error["error"]["details"]["retry_after_ms"] == 10_000
    assert len(_of(pusher, "npc.reply")) == 2
    assert len(endpoint.calls) == 2
    # and another player is unaffected
    say(deps, OTHER)
    assert len(_of(pusher, "npc.reply")) == 3


def test_the_turn_uses_the_cached_settings_not_a_read_per_turn() -> None:
    store = _settings_with(LIMITS)
    deps = turn_deps(settings=store)
    deps.settings = SettingsCache(store, clock=lambda: 0.0)
    say(deps)
    say(deps, OTHER)
    assert store.reads == 1
