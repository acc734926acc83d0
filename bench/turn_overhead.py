"""What our code adds to a turn, free of the model's own time: NPC turns through the whole local
backend (real WebSocket clients, gateway, npc-say, DynamoDB on moto server, the router, SageMaker
Runtime over HTTP, pushes through `@connections`) against a model whose answer is ready at once.

For 1, 4, 16 and 32 players talking at the same time: first token (frame `npc.token`) and reply
(frame `npc.reply`) as each client sees them, p50 and p95, and answered turns per minute; for one
player alone: the AWS calls of a turn (by operation) and its token frames. The model's own first
token is ~0 ms here, so the first-token figure is our overhead (moto server is slower than
DynamoDB: ~6 ms a call here against ~5 ms in AWS, so read ratios and call counts, not absolutes).

    .venv/bin/python -m bench.turn_overhead [--turns 20] [--players 1,4,16,32]

Prints a table and writes bench/results/turn_overhead.json.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import statistics
import threading
import time
from collections.abc import Generator
from typing import Any

import websockets

from aicore.llm.wire import ChatRequest
from aicore.local.embedded_aws import free_port
from aicore.local.runtime import LocalRuntime, RuntimeOptions, local_token
from bench.common import CallCounter, machine, write_report

TOKENS = 64  # a balanced-mode reply
NPC = "borin"
LINES = ["Can you forge me a sword?", "What news from the mountains?", "Is the forge hot today?"]
# Threads that work for a turn: its handler, its side-by-side reads, its token pushes, its model reader.
TURN_THREADS = ("lambda-npc-say", "parallel-read", "token-stream", "model-stream")


class InstantEngine:
    """A `ChatEngine` whose answer is ready at once: `TOKENS` tokens, no prefill, no decode time."""

    def prompt_tokens(self, request: ChatRequest) -> int:
        return 400

    def complete(self, request: ChatRequest) -> dict[str, Any]:
        text = "".join(f"w{i} " for i in range(TOKENS))
        return {
            "id": "instant",
            "object": "chat.completion",
            "created": 0,
            "model": "instant",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 400, "completion_tokens": TOKENS, "total_tokens": 400 + TOKENS},
        }

    def stream(self, request: ChatRequest) -> Generator[dict[str, Any], None, None]:
        for index in range(TOKENS):
            finish = "stop" if index == TOKENS - 1 else None
            yield {
                "id": "instant",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "instant",
                "choices": [{"index": 0, "delta": {"content": f"w{index} "}, "finish_reason": finish}],
            }


async def turn(ws: Any, line: str) -> tuple[float, float, int]:
    """(first token ms, reply ms, token frames) of one turn, as the client sees it."""
    started = time.perf_counter()
    await ws.send(json.dumps({"action": "npc.say", "request_id": "b", "npc_id": NPC, "text": line}))
    first, frames = 0.0, 0
    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] != "npc.token":
            assert frame["ok"], frame
            return first, (time.perf_counter() - started) * 1000, frames
        frames += 1
        if frames == 1:
            first = (time.perf_counter() - started) * 1000


async def player(url: str, turns: int, results: list[tuple[float, float, int]]) -> None:
    async with websockets.connect(url) as ws:
        await turn(ws, "Hello!")  # a warm-up turn: the pair's session starts, not measured
        for index in range(turns):
            results.append(await turn(ws, f"{LINES[index % len(LINES)]} (#{index})"))


async def players(
    runtime: LocalRuntime, count: int, turns: int
) -> tuple[list[tuple[float, float, int]], float]:
    port = runtime.options.port
    urls = [
        f"ws://127.0.0.1:{port}/ws?token={local_token(f'bench-{count}-{i}', 'demo')}" for i in range(count)
    ]
    results: list[tuple[float, float, int]] = []
    started = time.perf_counter()
    await asyncio.gather(*(player(url, turns, results) for url in urls))
    return results, time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)


def calls_of_a_turn(runtime: LocalRuntime, counter: CallCounter, turns: int) -> dict[str, float]:
    """The AWS calls one player's turn makes, by operation (median over `turns`)."""
    port = runtime.options.port
    url = f"ws://127.0.0.1:{port}/ws?token={local_token('bench-calls', 'demo')}"
    per_turn: list[collections.Counter[str]] = []

    async def run() -> None:
        async with websockets.connect(url) as ws:
            await turn(ws, "Hello!")
            for index in range(turns):
                counter.take()
                await turn(ws, LINES[index % len(LINES)])
                per_turn.append(counter.take())

    asyncio.run(run())
    operations = {op for calls in per_turn for op in calls}
    return {op: statistics.median(c[op] for c in per_turn) for op in sorted(operations)}


def run_bench(turns: int, player_counts: list[int]) -> dict[str, Any]:
    # Deadlines stretched: the model is instant, but a busy laptop must not turn lateness into fallbacks.
    runtime = LocalRuntime(RuntimeOptions(port=free_port(), deadline_scale=20), engine=InstantEngine())
    runtime.start()
    counter = CallCounter(lambda: threading.current_thread().name.startswith(TURN_THREADS))
    try:
        calls = calls_of_a_turn(runtime, counter, turns)
        levels = {}
        for count in player_counts:
            results, elapsed_s = asyncio.run(players(runtime, count, turns))
            firsts, replies, frames = zip(*results, strict=True)
            levels[str(count)] = {
                "turns": len(results),
                "first_token_ms_p50": percentile(list(firsts), 0.5),
                "first_token_ms_p95": percentile(list(firsts), 0.95),
                "reply_ms_p50": percentile(list(replies), 0.5),
                "reply_ms_p95": percentile(list(replies), 0.95),
                "token_frames_median": statistics.median(frames),
                "answered_turns_per_minute": round(len(results) / elapsed_s * 60),
            }
    finally:
        runtime.stop()
    return {
        "bench": "turn_overhead",
        "model": f"instant ({TOKENS} tokens, first at once)",
        "turns_per_player": turns,
        "machine": machine(),
        "aws_calls_per_turn_median": calls,
        "players": levels,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--players", default="1,4,16,32")
    args = parser.parse_args()
    report = run_bench(args.turns, [int(p) for p in args.players.split(",")])
    print(f"NPC turns against an instant model ({TOKENS} tokens), {args.turns} turns a player")
    print(
        "  AWS calls of one turn (median): "
        + ", ".join(f"{k} {v:g}" for k, v in report["aws_calls_per_turn_median"].items())
    )
    print(
        f"  {'players':>7} {'first token p50/p95':>22} {'reply p50/p95':>18} {'frames':>7} {'turns/min':>10}"
    )
    for count, row in report["players"].items():
        print(
            f"  {count:>7} {row['first_token_ms_p50']:>9.1f} / {row['first_token_ms_p95']:>6.1f} ms"
            f" {row['reply_ms_p50']:>7.1f} / {row['reply_ms_p95']:>6.1f} ms"
            f" {row['token_frames_median']:>7g} {row['answered_turns_per_minute']:>10}"
        )
    write_report("turn_overhead", report)


if __name__ == "__main__":
    main()
