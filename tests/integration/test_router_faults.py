"""Fault injection on the local model server: the router through real boto3 still answers every turn.

A scripted engine stands in for the model (these tests are about failures, not words), served
by the real local server: SageMaker Runtime over HTTP, event streams, SageMaker's error codes.
Each fault is one that endpoints really have: a stall, a 5xx, throttling, a stream cut mid-way,
bytes that are no event stream. Every turn must get an answer (the scripted line if need be),
the breaker must open and close, nothing may hang. Outcomes are asserted, never durations: the
router's attempts say whether a tier answered, timed out or had no time left. The router's clock
is the real one plus whatever a test skips, so a breaker's cooldown passes without waiting.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Generator, Iterator
from dataclasses import replace
from typing import Any

import pytest

from aicore.aws.sagemaker_runtime import SageMakerEndpoint
from aicore.llm.router import (
    SCRIPTED,
    BreakerState,
    Completion,
    ModelRequest,
    Outcome,
    Router,
    RouterPolicy,
    Tier,
)
from aicore.llm.wire import ChatMessage, ChatRequest
from aicore.local.faults import ADMIN_PATH, Fault, FaultKind, FaultPlan, admin_routes
from aicore.local.model_server import ModelServerThread

pytestmark = pytest.mark.timeout(60)

GOLD, SILVER = "aicore-faults-gold", "aicore-faults-silver"
LINE = ["Well ", "met, ", "traveller", "."]
REQUEST = ModelRequest([ChatMessage(role="user", content="Hello")], first_token_budget_ms=100, max_tokens=8)
# A turn that must be answered by a tier gets deadlines of the budgets x 300 (gold: 30 s): a busy
# machine delays the answer, never the outcome. A turn that must time out gets TIGHT ones (gold:
# 1 s) against a fault that stalls far longer, so it times out however busy the machine is.
POLICY = RouterPolicy(deadline_scale=300, stall_timeout_ms=5000, failure_threshold=3, cooldown_s=60)
TIGHT = replace(POLICY, deadline_scale=10)
STALL_S = 10.0


class SkippingClock:
    """The monotonic clock, plus the time a test skips (only forward, only between turns)."""

    def __init__(self) -> None:
        self.skipped_s = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped_s

    def skip(self, seconds: float) -> None:
        self.skipped_s += seconds


class LinesEngine:
    """A `ChatEngine` that says `LINE`, one chunk a piece."""

    def prompt_tokens(self, request: ChatRequest) -> int:
        return 5

    def complete(self, request: ChatRequest) -> dict[str, Any]:
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "lines",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(LINE)}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": len(LINE), "total_tokens": 5 + len(LINE)},
        }

    def stream(self, request: ChatRequest) -> Generator[dict[str, Any], None, None]:
        for piece in LINE:
            yield {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "lines",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
            }


@pytest.fixture(scope="module")
def faults() -> FaultPlan:
    return FaultPlan()


@pytest.fixture(scope="module")
def server(faults: FaultPlan) -> Iterator[str]:
    with ModelServerThread(
        LinesEngine(), [GOLD, SILVER], faults=faults, extra_routes=admin_routes(faults)
    ) as url:
        yield url


@pytest.fixture
def clock() -> SkippingClock:
    return SkippingClock()


@pytest.fixture
def router(
    server: str, faults: FaultPlan, clock: SkippingClock, fake_aws_credentials: None
) -> Iterator[Router]:
    faults.clear()
    endpoint = SageMakerEndpoint(endpoint_url=server)
    for policy in (POLICY, TIGHT):  # one botocore client per socket timeout, built before any turn
        endpoint.warm_up(policy.socket_timeout_s)
    yield Router(endpoint, {Tier.GOLD: GOLD, Tier.SILVER: SILVER}, POLICY, clock=clock)
    faults.clear()


def turn(router: Router, request: ModelRequest = REQUEST) -> tuple[Completion, list[str]]:
    tokens: list[str] = []
    completion = router.stream(request, tokens.append, lambda: "Hm? Say that again, friend.")
    print(completion.tier, completion.attempts)  # shown when a test fails
    # Every turn has an answer
    assert tokens
    assert completion.text
    return completion, tokens


def test_a_healthy_gold_tier_answers_with_token_counts(router: Router) -> None:
    completion, tokens = turn(router)
    assert tokens == LINE
    assert (completion.tier, completion.fallback) == ("gold", False)
    assert (completion.prompt_tokens, completion.tokens) == (5, 4)  # the stream's usage chunk


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (FaultKind.MODEL_ERROR, "ModelError"),
        (FaultKind.INTERNAL_FAILURE, "InternalFailure"),
        (FaultKind.THROTTLING, "ThrottlingException"),
    ],
)
def test_a_failing_gold_tier_falls_back_to_silver(
    router: Router, faults: FaultPlan, kind: FaultKind, reason: str
) -> None:
    faults.inject(Fault(endpoint=GOLD, kind=kind))

    completion, tokens = turn(router)

    assert tokens == LINE
    assert (completion.tier, completion.fallback) == ("silver", True)
    assert completion.fallback_reason == f"gold: {reason}"


def test_a_stalled_gold_tier_times_out_and_the_script_answers_by_the_deadline(
    router: Router, faults: FaultPlan
) -> None:
    # Given a gold endpoint that says nothing for longer than the turn's deadline (100 ms x 10)
    router.policy = TIGHT
    faults.inject(Fault(endpoint=GOLD, kind=FaultKind.STALL, delay_s=STALL_S))

    # When a gold turn comes
    completion, tokens = turn(router)

    # Then gold used the whole budget (no time was left for silver), and the scripted line answered
    assert completion.tier == SCRIPTED
    assert tokens == ["Hm? Say that again, friend."]
    assert [(a.tier, a.outcome) for a in completion.attempts] == [
        ("gold", Outcome.TIMED_OUT),
        ("silver", Outcome.NO_TIME_LEFT),
    ]


def test_a_slow_silver_turn_within_its_budget_is_answered_by_silver(
    router: Router, faults: FaultPlan
) -> None:
    faults.inject(Fault(endpoint=SILVER, kind=FaultKind.SLOW, delay_s=0.3))
    completion, _ = turn(router, ModelRequest(REQUEST.messages, first_token_budget_ms=1000, max_tokens=8))
    assert (completion.tier, completion.fallback) == ("silver", False)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (FaultKind.CUT, "StreamCut"),
        (FaultKind.GARBAGE, "ChecksumMismatch"),
        (FaultKind.STALL_MID_STREAM, "stalled mid-answer"),
    ],
)
def test_a_stream_broken_mid_way_keeps_what_was_said(
    router: Router, faults: FaultPlan, kind: FaultKind, reason: str
) -> None:
    faults.inject(Fault(endpoint=GOLD, kind=kind, after_chunks=2, delay_s=STALL_S))

    completion, tokens = turn(router)

    assert tokens == LINE[:2], completion.attempts  # nothing said twice, nothing invented
    assert (completion.tier, completion.truncated) == ("gold", True)
    assert completion.attempts[0].reason == reason


def test_both_tiers_down_is_a_scripted_line_at_once(router: Router, faults: FaultPlan) -> None:
    faults.inject(Fault(endpoint=GOLD, kind=FaultKind.MODEL_ERROR))
    faults.inject(Fault(endpoint=SILVER, kind=FaultKind.THROTTLING))

    completion, _ = turn(router)

    assert completion.tier == SCRIPTED
    assert completion.fallback_reason == "gold: ModelError; silver: ThrottlingException"


def test_the_breaker_opens_after_repeated_failures_and_closes_after_a_good_probe(
    router: Router, faults: FaultPlan, clock: SkippingClock
) -> None:
    # Given gold throttling every call
    faults.inject(Fault(endpoint=GOLD, kind=FaultKind.THROTTLING))

    # When three turns fail over to silver, the breaker opens
    for _ in range(3):
        assert turn(router)[0].tier == "silver"
    assert router.breakers[Tier.GOLD].state == BreakerState.OPEN
    assert faults.hits(GOLD) == 3

    # Then the next turn does not call gold at all
    completion, _ = turn(router)
    assert (completion.tier, completion.fallback_reason) == ("silver", "gold: circuit open")
    assert faults.hits(GOLD) == 3

    # When gold recovers and the cooldown has passed, one probe goes through, answers, and closes it
    faults.clear(GOLD)
    clock.skip(POLICY.cooldown_s)
    assert router.breakers[Tier.GOLD].state == BreakerState.HALF_OPEN
    completion, _ = turn(router)
    assert (completion.tier, completion.fallback) == ("gold", False)
    assert router.breakers[Tier.GOLD].state == BreakerState.CLOSED


def test_timeouts_open_the_breaker_too(router: Router, faults: FaultPlan) -> None:
    # Given a stalled gold endpoint: three gold turns time out (tight deadlines)
    router.policy = TIGHT
    faults.inject(Fault(endpoint=GOLD, kind=FaultKind.STALL, delay_s=STALL_S))
    for _ in range(3):
        assert turn(router)[0].tier == SCRIPTED
    assert router.breakers[Tier.GOLD].state == BreakerState.OPEN

    # Then the next turn skips gold: silver has the whole budget (a generous one, to answer in)
    router.policy = POLICY
    completion, _ = turn(router)
    assert (completion.tier, completion.fallback_reason) == ("silver", "gold: circuit open")


def test_faults_heal_after_their_count(router: Router, faults: FaultPlan) -> None:
    faults.inject(Fault(endpoint=GOLD, kind=FaultKind.MODEL_ERROR, times=1))
    assert turn(router)[0].tier == "silver"
    assert turn(router)[0].tier == "gold"


def test_faults_are_set_over_http_on_a_running_server(server: str, router: Router) -> None:
    def call(method: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{server}{ADMIN_PATH}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=5) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer

    call("POST", {"endpoint": GOLD, "kind": "throttling"})
    assert turn(router)[0].fallback_reason == "gold: ThrottlingException"
    assert call("GET")["faults"][0]["hits"] == 1
    assert call("DELETE") == {"faults": []}
    assert turn(router)[0].tier == "gold"


def test_a_scripted_gold_tier_says_its_script_streamed_and_only_where_the_prompt_matches(
    router: Router, faults: FaultPlan
) -> None:
    # Given gold scripted to break character, but only for prompts that mention Odo
    line = "As an AI language model, I cannot row a ferry."
    faults.inject(Fault(endpoint=GOLD, kind=FaultKind.SCRIPTED, reply=line, prompt_contains="Odo"))

    # When a turn for Odo comes, and one for somebody else
    odo = ModelRequest(
        [ChatMessage(role="system", content="You are Odo.")], first_token_budget_ms=100, max_tokens=8
    )
    scripted, scripted_tokens = turn(router, odo)
    _, other_tokens = turn(router)

    # Then Odo's turn streams the script word by word through the real client; the other is the model's
    assert "".join(scripted_tokens) == line
    assert len(scripted_tokens) == len(line.split())
    assert (scripted.tier, scripted.fallback, scripted.tokens) == ("gold", False, len(line.split()))
    assert other_tokens == LINE
    assert faults.hits(GOLD) == 1
