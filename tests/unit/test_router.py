"""The router over a scripted endpoint: tier choice, fallback, deadlines, circuit breakers, token counts."""

import json
import time
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

NAMES = {Tier.GOLD: "ep-gold", Tier.SILVER: "ep-silver"}
REQUEST = ModelRequest([ChatMessage(role="user", content="hi")], first_token_budget_ms=100, max_tokens=16)
SILVER_REQUEST = ModelRequest(REQUEST.messages, first_token_budget_ms=None, max_tokens=16)
ENDPOINTS = Path(__file__).resolve().parents[2] / "endpoints"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _state(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state


def _stream(
    endpoint: ScriptedEndpoint, router: Router | None = None, request: ModelRequest = REQUEST
) -> tuple[Completion, list[str]]:
    tokens: list[str] = []
    completion = (router or Router(endpoint, NAMES)).stream(
        request, tokens.append, lambda: "A scripted line."
    )
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
    _stream(endpoint, Router(endpoint, targets))
    assert endpoint.components == ["ic-gold", "ic-silver"]


def test_a_silent_tier_times_out_at_the_deadline_and_the_script_answers_in_budget() -> None:
    # Given a gold tier that would answer only after 2 s, and a 100 ms budget
    endpoint = ScriptedEndpoint(delays_s={"ep-gold": 2.0})
    router = Router(endpoint, NAMES, RouterPolicy(deadline_scale=1.0))

    # When a gold request comes
    completion, tokens = _stream(endpoint, router)

    # Then gold has used the whole budget: no time is left for silver; the script answers
    assert completion.tier == SCRIPTED
    assert [(a.tier, a.outcome) for a in completion.attempts] == [
        ("gold", Outcome.TIMED_OUT),
        ("silver", Outcome.NO_TIME_LEFT),
    ]
    assert tokens == ["A scripted line."]
    assert 95 <= completion.first_token_ms < 100 + 150  # the deadline, plus scheduling on a busy box


def test_the_deadline_scale_stretches_the_wait() -> None:
    endpoint = ScriptedEndpoint(delays_s={"ep-gold": 0.15})
    completion, _ = _stream(endpoint, Router(endpoint, NAMES, RouterPolicy(deadline_scale=20)))
    assert completion.tier == "gold"  # 150 ms is within 100 ms x 20


def test_one_socket_timeout_covers_every_deadline_and_stall_up_to_a_cap() -> None:
    assert RouterPolicy().socket_timeout_s == 10.0  # the unbudgeted deadline: the longest wait
    assert RouterPolicy(stall_timeout_ms=20_000).socket_timeout_s == 20.0
    assert RouterPolicy(deadline_scale=100).socket_timeout_s == 300.0


def test_a_stall_mid_answer_keeps_what_was_said() -> None:
    class Stalling(ScriptedEndpoint):
        def _items(self, endpoint_name: str) -> Iterator[str | Usage]:
            yield "Well "
            time.sleep(1.0)
            yield "met."

    router = Router(Stalling(), NAMES, RouterPolicy(stall_timeout_ms=50))
    completion, tokens = _stream(Stalling(), router)
    assert tokens == ["Well "]
    assert completion.truncated
    assert completion.attempts[0].reason == "stalled mid-answer"


def test_the_breaker_opens_after_repeated_failures_and_the_tier_is_skipped() -> None:
    # Given a router whose gold tier fails every call
    endpoint = ScriptedEndpoint(failing={"ep-gold"})
    clock = FakeClock()
    router = Router(endpoint, NAMES, RouterPolicy(failure_threshold=3, cooldown_s=10), clock=clock)

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
    clock = FakeClock()
    router = Router(endpoint, NAMES, RouterPolicy(failure_threshold=2, cooldown_s=10), clock=clock)
    for _ in range(2):
        _stream(endpoint, router)
    gold = router.breakers[Tier.GOLD]
    assert _state(gold) == BreakerState.OPEN

    # When the cooldown has passed and gold is still down, the probe fails: open again
    clock.now += 10
    assert _state(gold) == BreakerState.HALF_OPEN
    endpoint.calls.clear()
    _stream(endpoint, router)
    assert endpoint.calls == ["ep-gold", "ep-silver"]
    assert _state(gold) == BreakerState.OPEN

    # When gold is back after another cooldown, the probe answers and the breaker closes
    clock.now += 10
    endpoint.failing.clear()
    completion, _ = _stream(endpoint, router)
    assert (completion.tier, completion.fallback) == ("gold", False)
    assert _state(gold) == BreakerState.CLOSED


def test_half_open_lets_one_probe_through_at_a_time() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("gold", failure_threshold=1, cooldown_s=5, clock=clock)
    breaker.record_failure()
    assert not breaker.allow()
    clock.now += 5
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # others wait for its verdict
    clock.now += 5
    assert breaker.allow()  # a probe that never reported back is given up on


def test_success_resets_the_count_of_failures_in_a_row() -> None:
    breaker = CircuitBreaker("gold", failure_threshold=2, cooldown_s=5, clock=FakeClock())
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
