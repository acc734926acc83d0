"""Overload: many players on the real local model (SmolLM2-135M on a laptop CPU), and whether the
model only does work someone waits for.

For 1, 4, 16 and 32 players, each saying a line, reading the whole answer, pausing a moment and
saying the next, for a fixed time: first token and reply (p50, p95) as clients see them, answered
turns per minute, how many came from the model (not the scripted line), and the model's busy and
wasted time (spent on answers whose reader left before the end) from the local model server's
`GET /_aicore/stats`. The router's deadlines are the local default (the budgets times 100).

    .venv/bin/python -m bench.overload [--seconds 60] [--players 1,4,16,32]

Prints a table and writes bench/results/overload.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import urllib.request
from typing import Any

import websockets

from aicore.local.embedded_aws import free_port
from aicore.local.runtime import LocalRuntime, RuntimeOptions, local_token
from bench.common import machine, write_report
from bench.turn_overhead import LINES, NPC, percentile

THINK_S = (0.5, 2.0)  # a player reads the answer, then types the next line


async def player(url: str, until: float, seed: int, turns: list[dict[str, Any]]) -> None:
    rng = random.Random(seed)
    async with websockets.connect(url) as ws:
        index = 0
        while time.monotonic() < until:
            started = time.perf_counter()
            line = f"{LINES[index % len(LINES)]} (#{index})"
            await ws.send(
                json.dumps({"action": "npc.say", "request_id": f"r{index}", "npc_id": NPC, "text": line})
            )
            first = None
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=600))
                if frame["type"] == "npc.token":
                    first = first or (time.perf_counter() - started) * 1000
                    continue
                reply_ms = (time.perf_counter() - started) * 1000
                tier = frame["data"]["tier"] if frame["ok"] else "error"
                turns.append({"first_token_ms": first or reply_ms, "reply_ms": reply_ms, "tier": tier})
                break
            index += 1
            await asyncio.sleep(rng.uniform(*THINK_S))


def model_stats(runtime: LocalRuntime) -> dict[str, Any]:
    with urllib.request.urlopen(f"{runtime.model.url}/_aicore/stats", timeout=30) as response:
        stats: dict[str, Any] = json.loads(response.read())
    return stats


def level(runtime: LocalRuntime, count: int, seconds: float) -> dict[str, Any]:
    port = runtime.options.port
    urls = [
        f"ws://127.0.0.1:{port}/ws?token={local_token(f'load-{count}-{i}', 'demo')}" for i in range(count)
    ]
    before = model_stats(runtime)
    turns: list[dict[str, Any]] = []
    started = time.monotonic()

    async def everyone() -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(*(player(url, until, i, turns) for i, url in enumerate(urls)))

    asyncio.run(everyone())
    elapsed = time.monotonic() - started
    after = model_stats(runtime)
    busy = after["busy_s"] - before["busy_s"]
    wasted = after["wasted_s"] - before["wasted_s"]
    firsts = [t["first_token_ms"] for t in turns]
    replies = [t["reply_ms"] for t in turns]
    answered_by_model = sum(t["tier"] in ("gold", "silver") for t in turns)
    return {
        "turns": len(turns),
        "first_token_ms_p50": percentile(firsts, 0.5),
        "first_token_ms_p95": percentile(firsts, 0.95),
        "reply_ms_p50": percentile(replies, 0.5),
        "reply_ms_p95": percentile(replies, 0.95),
        "answered_turns_per_minute": round(len(turns) / elapsed * 60),
        "model_answered_share": round(answered_by_model / len(turns), 3) if turns else 0.0,
        "model_busy_s": round(busy, 1),
        "model_wasted_share": round(wasted / busy, 3) if busy else 0.0,
        "throttled": after["throttled"] - before["throttled"],
        "dropped_past_deadline": after["dropped_past_deadline"] - before["dropped_past_deadline"],
    }


def run_bench(seconds: float, counts: list[int]) -> dict[str, Any]:
    runtime = LocalRuntime(RuntimeOptions(port=free_port()))
    runtime.start()
    try:
        levels = {str(count): level(runtime, count, seconds) for count in counts}
    finally:
        runtime.stop()
    return {
        "bench": "overload",
        "model": "SmolLM2-135M-Instruct (llama.cpp, one generation at a time)",
        "seconds_per_level": seconds,
        "machine": machine(),
        "players": levels,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--players", default="1,4,16,32")
    args = parser.parse_args()
    report = run_bench(args.seconds, [int(p) for p in args.players.split(",")])
    print(f"players on the local model for {args.seconds:g} s each")
    print(
        f"  {'players':>7} {'first token p50/p95 ms':>23} {'reply p50/p95 ms':>18} {'turns/min':>9}"
        f" {'by model':>8} {'wasted':>7} {'throttled':>9} {'dropped':>7}"
    )
    for count, row in report["players"].items():
        print(
            f"  {count:>7} {row['first_token_ms_p50']:>10.0f} / {row['first_token_ms_p95']:>8.0f}"
            f" {row['reply_ms_p50']:>8.0f} / {row['reply_ms_p95']:>7.0f}"
            f" {row['answered_turns_per_minute']:>9}"
            f" {row['model_answered_share']:>8.0%} {row['model_wasted_share']:>7.1%}"
            f" {row['throttled']:>9} {row['dropped_past_deadline']:>7}"
        )
    write_report("overload", report)


if __name__ == "__main__":
    main()
