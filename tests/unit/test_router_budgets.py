"""A tier is blamed only for a budget it was given: a fallback that gets what is left of another
tier's budget and runs out is reported, never counted against its breaker."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from aicore.llm.endpoint import ChatCall, ChatResult, ChatStream
from aicore.llm.router import BreakerState, ModelRequest, Outcome, Router, RouterPolicy
from aicore.llm.tiers import GOLD_BUDGET_MS, Tier
from aicore.llm.wire import ChatMessage

MESSAGES = [ChatMessage(role="user", content="Hello")]


class Clock:
    """Seconds that move only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SilentTiers:
    """Every tier lets `spends_s` of (fake) time pass once its stream is open, and never sends a token."""

    def __init__(self, clock: Clock, spends_s: dict[str, float]) -> None:
        self._clock, self._spends_s = clock, spends_s
        self.released = threading.Event()  # ends the silent streams when the test is done

    def stream_chat(self, call: ChatCall) -> ChatStream:
        return ChatStream(self._silence(self._spends_s[call.target.endpoint]))

    def _silence(self, spends_s: float) -> Iterator[str]:
        self._clock.now += spends_s
        self.released.wait(5)
        yield from ()

    def chat(self, call: ChatCall) -> ChatResult:
        raise NotImplementedError("the router only streams")


def _route(router: Router) -> str:
    completion = router.stream(
        ModelRequest(MESSAGES, first_token_budget_ms=GOLD_BUDGET_MS, max_tokens=8),
        on_token=lambda _: None,
        scripted_line=lambda: "One moment, love!",
    )
    return completion.tier


def test_silver_is_not_blamed_for_the_rest_of_golds_budget() -> None:
    # Given gold that uses 92 of its 100 ms without a token, and silver that gets the 8 ms left
    clock = Clock()
    tiers = SilentTiers(clock, {"gold": 0.092, "silver": 0.0})
    router = Router(
        tiers, {Tier.GOLD: "gold", Tier.SILVER: "silver"}, RouterPolicy(failure_threshold=2), clock
    )
    try:
        # When five turns in a row fall back to the scripted line
        answers = [_route(router) for _ in range(5)]
    finally:
        tiers.released.set()
    # Then gold, which had its whole budget, is taken out; silver, which never had its own, is not
    assert answers == ["scripted"] * 5
    assert router.breakers[Tier.GOLD].state is BreakerState.OPEN
    assert router.breakers[Tier.SILVER].state is BreakerState.CLOSED


def test_a_tier_that_misses_its_own_budget_is_blamed() -> None:
    # Given silver asked first (a 1,000 ms budget) that stays silent through all of it
    clock = Clock()
    tiers = SilentTiers(clock, {"gold": 0.0, "silver": 0.999})
    router = Router(tiers, {Tier.SILVER: "silver"}, RouterPolicy(failure_threshold=1), clock)
    try:
        completion = router.stream(
            ModelRequest(MESSAGES, first_token_budget_ms=1000, max_tokens=8),
            on_token=lambda _: None,
            scripted_line=lambda: "Hm.",
        )
    finally:
        tiers.released.set()
    # Then the timeout counts against silver
    assert [a.outcome for a in completion.attempts] == [Outcome.TIMED_OUT]
    assert router.breakers[Tier.SILVER].state is BreakerState.OPEN
