"""What the router costs per call, over an endpoint that answers instantly (no model, no network).

- **decision**: picking the tier for a budget and asking its circuit breaker (per request).
- **stream, direct**: reading the same tokens straight from the endpoint's stream (the baseline).
- **stream, routed**: `Router.stream` over that endpoint: the reader thread, the deadline
  waits, the breaker bookkeeping, the completion. Its overhead is routed minus direct.
- **fallback**: gold refuses at once, silver answers: two attempts in one call.
- **scripted**: both breakers open: the scripted line with no endpoint call at all.

Log lines are off (level ERROR): the fallback path's warning is the logger's cost, not the router's.

    .venv/bin/python -m bench.router_overhead [--calls 2000] [--tokens 64]

Prints a table and writes bench/results/router_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from aicore.errors import ModelUnavailable
from aicore.llm.endpoint import ChatCall, ChatResult, ChatStream, TierTarget
from aicore.llm.router import ModelRequest, Router, RouterPolicy, Tier, tier_for_budget
from aicore.llm.wire import ChatMessage, Usage
from aicore.observability import logger

RESULTS = Path(__file__).parent / "results" / "router_overhead.json"
MESSAGES = [ChatMessage(role="user", content="Hello there!")]


class InstantEndpoint:
    """A `ModelEndpoint` whose answer is ready at once: `tokens` deltas, then usage."""

    def __init__(self, tokens: int, failing: frozenset[str] = frozenset()) -> None:
        self._tokens = [f"t{i} " for i in range(tokens)]
        self._failing = failing

    def stream_chat(self, call: ChatCall) -> ChatStream:
        if call.target.endpoint in self._failing:
            raise ModelUnavailable("refused", {"reason": "ThrottlingException"})
        return ChatStream(self._items())

    def _items(self) -> Iterator[str | Usage]:
        yield from self._tokens
        yield Usage(
            prompt_tokens=10, completion_tokens=len(self._tokens), total_tokens=10 + len(self._tokens)
        )

    def chat(self, call: ChatCall) -> ChatResult:
        return ChatResult("".join(self._tokens), 10, len(self._tokens))


def per_call_us(run: Callable[[], object], calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        run()
        samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_us": round(statistics.median(ordered), 2),
        "p90_us": round(ordered[int(len(ordered) * 0.9)], 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args(argv)
    logger.setLevel("ERROR")

    names = {Tier.GOLD: "gold", Tier.SILVER: "silver"}
    request = ModelRequest(MESSAGES, first_token_budget_ms=100, max_tokens=args.tokens)
    endpoint = InstantEndpoint(args.tokens)
    router = Router(endpoint, names, RouterPolicy())
    failing_gold = Router(
        InstantEndpoint(args.tokens, frozenset({"gold"})), names, RouterPolicy(failure_threshold=10**9)
    )
    all_down = Router(endpoint, names, RouterPolicy(cooldown_s=3600))
    for breaker in all_down.breakers.values():
        for _ in range(3):
            breaker.record_failure()

    def decision() -> None:
        tier = tier_for_budget(request.first_token_budget_ms)
        router.breakers[tier].allow()
        router.policy.deadline_s(request.first_token_budget_ms)

    def direct() -> None:
        stream = endpoint.stream_chat(
            ChatCall(TierTarget("gold"), MESSAGES, max_tokens=args.tokens, temperature=0.7, timeout_s=5)
        )
        for delta in stream:
            on_token(delta)

    def on_token(_: str) -> None:
        return None

    def routed() -> None:
        router.stream(request, on_token, lambda: "scripted")

    def fallback() -> None:
        failing_gold.stream(request, on_token, lambda: "scripted")

    def scripted() -> None:
        all_down.stream(request, on_token, lambda: "scripted")

    for warm in (direct, routed, fallback, scripted):
        per_call_us(warm, 50)
    decision_samples = per_call_us(decision, args.calls * 10)
    results = {
        "decision": summary(decision_samples),
        "stream, direct": summary(per_call_us(direct, args.calls)),
        "stream, routed": summary(per_call_us(routed, args.calls)),
        "fallback gold -> silver": summary(per_call_us(fallback, args.calls)),
        "scripted (breakers open)": summary(per_call_us(scripted, args.calls)),
    }
    overhead = results["stream, routed"]["median_us"] - results["stream, direct"]["median_us"]
    derived = {
        "router_overhead_per_call_us": round(overhead, 2),
        "router_overhead_per_token_us": round(overhead / args.tokens, 2),
    }

    print(f"{'':28} {'median µs':>10} {'p90 µs':>10}")
    for name, row in results.items():
        print(f"{name:28} {row['median_us']:>10.1f} {row['p90_us']:>10.1f}")
    print(
        f"router overhead: {derived['router_overhead_per_call_us']:.1f} µs a call of {args.tokens} tokens "
        f"({derived['router_overhead_per_token_us']:.2f} µs a token)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "bench": "router_overhead",
                "calls": args.calls,
                "tokens_per_call": args.tokens,
                "machine": {
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                },
                "results": results,
                **derived,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
