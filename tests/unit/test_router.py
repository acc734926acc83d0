"""The router over a scripted endpoint: tier choice, fallback, deadlines, circuit breakers, token counts.

Every router here runs on virtual time (`tests.virtual_time`): a slow or silent tier pauses in
virtual seconds, so deadlines and durations are exact, and a busy machine changes nothing.
"""

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from aicore.llm.router import (
    GOLD_BUDGET_MS,
    SCRIPTED,
    SILVER_BUDGET_MS,
    BreakerState,
    CircuitBreaker,
    Completion,
    ModelRequest,
    Outcome,
    Router,
    RouterPolicy,
    Tier,
    TierTarget,
    tier_for_budget,
)
from aicore.llm.wire import ChatMessage, Usage
from tests.fakes import ScriptedEndpoint
from tests.virtual_time import Pause, VirtualTime

NAMES = {Tier.GOLD: "ep-gold", Tier.SILVER: "ep-silver"}
REQUEST = ModelRequest([ChatMessage(role="user", content="hi")], first_token_budget_ms=100, max_tokens=16)
SILVER_REQUEST = ModelRequest(REQUEST.messages, first_token_budget_ms=None, max_tokens=16)
ENDPOINTS = Path(__file__).resolve().parents[2] / "endpoints"


def _router(
    endpoint: ScriptedEndpoint, policy: RouterPolicy | None = None, time: VirtualTime | None = None
) -> Router:
    time = time or VirtualTime()
    return Router(endpoint, NAMES, policy, clock=time, wait=time.wait)


def _state(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state


def _stream(
    endpoint: ScriptedEndpoint, router: Router | None = None, request: ModelRequest = REQUEST
) -> tuple[Completion, list[str]]:
    tokens: list[str] = []
    completion = (router or _router(endpoint)).stream(request, tokens.append, lambda: "A scripted line.")
    return completion, tokens


def test_budget_picks_the_tier() -> None:
    assert tier_for_budget(50) == Tier.GOLD
    assert tier_for_budget(100) == Tier.GOLD
    assert tier_for_budget(500) == Tier.SILVER
    assert tier_for_budget(None) == Tier.SILVER


def test_the_budgets_are_the_endpoint_configs_latency_budgets() -> None:
    budgets = {p.stem: json.loads(p.read_text())["latency_budget_ms"] for p in ENDPOINTS.glob("*.json")}
    assert (budgets["gold"], budgets["silver"]) == (GOLD_BUDGET_MS, SILVER_BUDGET_MS)


def test_gold_answers_when_healthy() -> None:
    completion, tokens = _stream(ScriptedEndpoint())
    assert tokens == ["Well ", "met, ", "traveller."]
    assert completion.text == "Well met, traveller."
    assert (completion.tier, completion.fallback, completion.tokens) == ("gold", False, 3)
    assert completion.fallback_reason is None
    assert [a.outcome for a in completion.attempts] == [Outcome.ANSWERED]


def test_falls_back_to_silver_then_scripted_and_says_why() -> None:
    endpoint = ScriptedEndpoint(failing={"ep-gold"})
    completion, _ = _stream(endpoint)
    assert endpoint.calls == ["ep-gold", "ep-silver"]
    assert (completion.tier, completion.fallback) == ("silver", True)
    assert completion.fallback_reason == "gold: ModelError"

    completion, tokens = _stream(ScriptedEndpoint(failing={"ep-gold", "ep-silver"}))
    assert (completion.tier, completion.text) == (SCRIPTED, "A scripted line.")
    assert tokens == ["A scripted line."]
    assert completion.fallback_reason == "gold: ModelError; silver: ModelError"


def test_a_silver_request_falls_back_to_gold_rather_than_to_a_script() -> None:
    endpoint = ScriptedEndpoint(failing={"ep-silver"})
    completion, _ = _stream(endpoint, request=SILVER_REQUEST)
    assert endpoint.calls == ["ep-silver", "ep-gold"]
    assert (completion.tier, completion.fallback) == ("gold", True)


def test_a_stream_cut_midway_keeps_what_was_said() -> None:
    endpoint = ScriptedEndpoint(cut_after=2)
    completion, tokens = _stream(endpoint)
    assert endpoint.calls == ["ep-gold"]  # no second answer on top of the first one's start
    assert tokens == ["Well ", "met, "]
    assert completion.truncated
    assert completion.text == "Well met,"
    assert completion.attempts[0].outcome == Outcome.TRUNCATED


def test_token_counts_come_from_the_endpoint_when_it_sends_them() -> None:
    usage = Usage(prompt_tokens=42, completion_tokens=5, total_tokens=47)
    completion, _ = _stream(ScriptedEndpoint(usage=usage))
    assert (completion.prompt_tokens, completion.tokens) == (42, 5)

    completion, _ = _stream(ScriptedEndpoint())
    assert (completion.prompt_tokens, completion.tokens) == (None, 3)  # counted deltas


def test_the_inference_component_goes_with_each_call() -> None:
    endpoint = ScriptedEndpoint(failing={"ep-gold"})
    targets = {Tier.GOLD: TierTarget("ep-gold", "ic-gold"), Tier.SILVER: TierTarget("ep-silver", "ic-silver")}
    time = VirtualTime()
    _stream(endpoint, Router(endpoint, targets, clock=time, wait=time.wait))
    assert endpoint.components == ["ic-gold", "ic-silver"]


def test_a_silent_tier_times_out_at_the_deadline_and_the_script_answers_in_budget() -> None:
    # Given a gold tier that never answers, and a 100 ms budget
    endpoint = ScriptedEndpoint(delays_s={"ep-gold": math.inf})
    router = _router(endpoint, RouterPolicy(deadline_scale=1.0))

    # When a gold request comes
    completion, tokens = _stream(endpoint, router)

    # Then gold has used the whole budget: no time is left for silver; the script answers at the deadline
    assert completion.tier == SCRIPTED
    assert [(a.tier, a.outcome, a.ms) for a in completion.attempts] == [
        ("gold", Outcome.TIMED_OUT, 100.0),
        ("silver", Outcome.NO_TIME_LEFT, 0.0),
    ]
    assert tokens == ["A scripted line."]
    assert completion.first_token_ms == 100.0


def test_a_failing_tier_leaves_its_fallback_only_the_time_left() -> None:
    # Given a gold tier that fails after 60 ms, and a silver tier that needs 50 ms to its first token
    endpoint = ScriptedEndpoint(failing={"ep-gold"}, delays_s={"ep-gold": 0.06, "ep-silver": 0.05})

    # When a gold request comes (100 ms budget)
    completion, _ = _stream(endpoint, _router(endpoint))

    # Then silver had the 40 ms left, not a budget of its own: the script answered at the deadline
    assert [(a.tier, a.outcome, a.ms) for a in completion.attempts] == [
        ("gold", Outcome.FAILED, 60.0),
        ("silver", Outcome.TIMED_OUT, 40.0),
    ]
    assert (completion.tier, completion.first_token_ms) == (SCRIPTED, 100.0)


def test_no_tier_is_started_with_less_than_the_minimum_attempt_left() -> None:
    # Given a gold tier that fails 97 ms into a 100 ms budget (3 ms left, 5 ms the least worth trying)
    endpoint = ScriptedEndpoint(failing={"ep-gold"}, delays_s={"ep-gold": 0.097})

    completion, _ = _stream(endpoint, _router(endpoint, RouterPolicy(min_attempt_ms=5)))

    # Then silver is not even called
    assert endpoint.calls == ["ep-gold"]
    assert [a.outcome for a in completion.attempts] == [Outcome.FAILED, Outcome.NO_TIME_LEFT]
    assert completion.tier == SCRIPTED


@pytest.mark.parametrize(("scale", "tier"), [(1, SCRIPTED), (20, "gold")])
def test_the_deadline_scale_stretches_the_wait(scale: float, tier: str) -> None:
    # Given a gold tier whose first token takes 150 ms (silver is down)
    endpoint = ScriptedEndpoint(failing={"ep-silver"}, delays_s={"ep-gold": 0.15})

    # When the 100 ms budget is taken as is, or stretched 20 times (a laptop's CPU model)
    completion, _ = _stream(endpoint, _router(endpoint, RouterPolicy(deadline_scale=scale)))

    # Then gold is too late for the budget, and in time for the stretched one
    assert completion.tier == tier
    if tier == "gold":
        assert completion.first_token_ms == 150.0


def test_one_socket_timeout_covers_every_deadline_and_stall_up_to_a_cap() -> None:
    assert RouterPolicy().socket_timeout_s == 10.0  # the unbudgeted deadline: the longest wait
    assert RouterPolicy(stall_timeout_ms=20_000).socket_timeout_s == 20.0
    assert RouterPolicy(deadline_scale=100).socket_timeout_s == 300.0


def test_a_stall_mid_answer_keeps_what_was_said() -> None:
    class Stalling(ScriptedEndpoint):
        def _items(self, endpoint_name: str) -> Iterator[str | Usage]:
            yield "Well "
            yield Pause(1.0)
            yield "met."

    # Given a tier that goes silent for 1 s after its first token, and a 50 ms stall timeout
    endpoint = Stalling()
    completion, tokens = _stream(endpoint, _router(endpoint, RouterPolicy(stall_timeout_ms=50)))

    # Then what was said is kept, the rest is not waited for, and the answer ended at the stall timeout
    assert tokens == ["Well "]
    assert completion.truncated
    assert completion.attempts[0].reason == "stalled mid-answer"
    assert completion.total_ms == completion.first_token_ms + 50.0


def test_the_breaker_opens_after_repeated_failures_and_the_tier_is_skipped() -> None:
    # Given a router whose gold tier fails every call
    endpoint = ScriptedEndpoint(failing={"ep-gold"})
    router = _router(endpoint, RouterPolicy(failure_threshold=3, cooldown_s=10))

    # When three requests fail on gold
    for _ in range(3):
        _stream(endpoint, router)
    assert _state(router.breakers[Tier.GOLD]) == BreakerState.OPEN

    # Then the next request goes straight to silver, and says why
    endpoint.calls.clear()
    completion, _ = _stream(endpoint, router)
    assert endpoint.calls == ["ep-silver"]
    assert completion.fallback_reason == "gold: circuit open"


def test_a_successful_probe_closes_the_breaker_and_a_failed_one_reopens_it() -> None:
    endpoint = ScriptedEndpoint(failing={"ep-gold"})
    time = VirtualTime()
    router = _router(endpoint, RouterPolicy(failure_threshold=2, cooldown_s=10), time)
    for _ in range(2):
        _stream(endpoint, router)
    gold = router.breakers[Tier.GOLD]
    assert _state(gold) == BreakerState.OPEN

    # When the cooldown has passed and gold is still down, the probe fails: open again
    time.advance(10)
    assert _state(gold) == BreakerState.HALF_OPEN
    endpoint.calls.clear()
    _stream(endpoint, router)
    assert endpoint.calls == ["ep-gold", "ep-silver"]
    assert _state(gold) == BreakerState.OPEN

    # When gold is back after another cooldown, the probe answers and the breaker closes
    time.advance(10)
    endpoint.failing.clear()
    completion, _ = _stream(endpoint, router)
    assert (completion.tier, completion.fallback) == ("gold", False)
    assert _state(gold) == BreakerState.CLOSED


def test_half_open_lets_one_probe_through_at_a_time() -> None:
    time = VirtualTime()
    breaker = CircuitBreaker("gold", failure_threshold=1, cooldown_s=5, clock=time)
    breaker.record_failure()
    assert not breaker.allow()
    time.advance(4.5)
    assert not breaker.allow()
    time.advance(0.5)
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # others wait for its verdict
    time.advance(5)
    assert breaker.allow()  # a probe that never reported back is given up on


def test_success_resets_the_count_of_failures_in_a_row() -> None:
    breaker = CircuitBreaker("gold", failure_threshold=2, cooldown_s=5, clock=VirtualTime())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert _state(breaker) == BreakerState.CLOSED


@pytest.mark.parametrize("budget", [None, 100, 1000])
def test_every_request_gets_an_answer(budget: int | None) -> None:
    endpoint = ScriptedEndpoint(failing={"ep-gold", "ep-silver"})
    request = ModelRequest(REQUEST.messages, first_token_budget_ms=budget, max_tokens=16)
    completion, tokens = _stream(endpoint, request=request)
    assert tokens == [completion.text]
