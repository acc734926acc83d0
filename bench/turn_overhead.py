"""What our code adds to a turn, free of the model's own time: NPC turns through the whole local
backend (real WebSocket clients, gateway, npc-say, DynamoDB on moto server, the router, SageMaker
Runtime over HTTP, pushes through `@connections`) against a model whose answer is ready at once.

For 1, 4, 16 and 32 players talking at the same time: first token (frame `npc.token`) and reply
(frame `npc.reply`) as each client sees them, p50 and p95, and answered turns per minute; for one
player alone: the AWS calls of a turn (by operation; the world's state, one `Query` for the time,
weather and facts around the NPC, is read beside the other reads) and its token frames. The model's own first
token is ~0 ms here, so the first-token figure is our overhead (moto server is slower than
DynamoDB: ~6 ms a call here against ~5 ms in AWS, so read ratios and call counts, not absolutes).

What the NPC's mind and lore add to a turn (`mind`): a player whose pair with Mira is new (10
memories), and one whose pair is full (80 memories about them, 40 general ones: the bound), in a
world with lore (the demo documents, static vectors); turns alternate between the real turn and
the same turn without them (no memory Query, no index pointers, so no ranking and no lore search)
on one connection: AWS calls of each, first token and reply medians of each, the difference, and
`recollect` alone, in process. These turns announce nothing (their NPC Turn Completed, the one
PutEvents after the reply, is dropped): the pair keeps its size, and the mind's consumer does not
compete with the turns for this machine's CPU.

    .venv/bin/python -m bench.turn_overhead [--turns 20] [--players 1,4,16,32] [--mind-turns 40]

Prints a table and writes bench/results/turn_overhead.json.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import json
import statistics
import threading
import time
import uuid
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, cast

import websockets

from aicore import wiring
from aicore.clock import game_time, stamp
from aicore.events import EventDetail
from aicore.knowledge.models import DocumentStatus
from aicore.llm.wire import ChatRequest
from aicore.local.embedded_aws import free_port
from aicore.local.runtime import LocalRuntime, RuntimeOptions, local_token
from aicore.mind.models import Memory, MemorySet
from aicore.mind.store import MindStore
from aicore.npc.recollection import recollect
from aicore.npc.turn import TurnDeps
from aicore.world.models import TurnContext
from aicore.world.store import WorldStore
from bench.common import CallCounter, machine, write_report
from bench.mind import load as labelled_memories

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


async def turn(ws: Any, line: str, npc: str = NPC) -> tuple[float, float, int]:
    """(first token ms, reply ms, token frames) of one turn, as the client sees it."""
    started = time.perf_counter()
    await ws.send(
        json.dumps({"action": "npc.say", "request_id": f"b-{uuid.uuid4().hex}", "npc_id": npc, "text": line})
    )
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


MIND_NPC = "mira"
PAIRS = {"new": (10, 0), "full": (80, 40)}  # memories about the player, general ones (the bound)
MIND_LINES = [
    "Have you heard anything about my missing sister?",
    "Where is the Sunken Library, and when can I get there?",
    "Is the stew good tonight at the Gilded Goose?",
    "Who rules the town since the old king vanished?",
]


class _NoMemories:
    """The turn's memory read, without the read (the baseline's mind has nothing)."""

    def turn_memories(self, world_id: str, npc_id: str, player_id: str) -> MemorySet:
        return MemorySet()


class _NoEvents:
    def publish(self, source: str, detail_type: str, detail: EventDetail) -> None:
        return None


class _NoLore:
    """The world batch as it is, less the knowledge index pointers (the baseline searches no lore)."""

    def __init__(self, world: WorldStore) -> None:
        self._world = world

    def turn_context(self, world_id: str, npc_id: str, player_id: str) -> TurnContext:
        return dataclasses.replace(self._world.turn_context(world_id, npc_id, player_id), knowledge=())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._world, name)


@contextmanager
def alternating() -> Iterator[dict[str, bool]]:
    """npc-say's dependencies as wired, or (`with_mind` False) without memories and lore; neither
    announces its turn."""
    real = wiring.turn_deps
    switch = {"with_mind": True}

    def deps() -> TurnDeps:
        wired = dataclasses.replace(real(), events=_NoEvents())
        if switch["with_mind"]:
            return wired
        mind = dataclasses.replace(wired.mind, memories=cast("MindStore", _NoMemories()))
        return dataclasses.replace(wired, world=cast("WorldStore", _NoLore(wired.world)), mind=mind)

    wiring.turn_deps = deps  # the handler asks wiring at each invocation
    try:
        yield switch
    finally:
        wiring.turn_deps = real


def fill_the_pair(player: str, about_count: int, general_count: int) -> dict[str, int]:
    """Mira's pair with `player`: so many memories about them and general ones, an hour old."""
    store = wiring.mind_store()
    labelled, _ = labelled_memories(wiring.static_embedder())
    at = stamp(game_time() - timedelta(hours=1))

    def memory(source: Memory, n: int, about: str | None) -> Memory:
        return source.model_copy(
            update={
                "memory_id": f"bench-{about or 'general'}-{n}",
                "npc_id": MIND_NPC,
                "about": about,
                "created_at": at,
                "last_access": at,
                "importance": 3 + n % 6,
            }
        )

    about = [memory(labelled[n % len(labelled)], n, player) for n in range(about_count)]
    general = [memory(labelled[-1 - n], n, None) for n in range(general_count)]
    for start in range(0, len(about), 20):
        store.add(about[start : start + 20], importance=0)
    if general:
        store.copy_general("demo", MIND_NPC, player, general, version=1)
    held = store.turn_memories("demo", MIND_NPC, player)
    return {"about_the_player": len(held.about), "general": len(held.general)}


def lore_ready(timeout_s: float = 300) -> int:
    """Waits for the demo lore (seeded at start) to be indexed; the number of documents."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        documents = wiring.knowledge_store().list("demo")
        if documents and all(d.status is DocumentStatus.READY for d in documents):
            return len(documents)
        time.sleep(0.5)
    raise RuntimeError("the demo lore was not indexed in time")


def mind_cost(runtime: LocalRuntime, counter: CallCounter, turns: int, pair: str) -> dict[str, Any]:
    """Turns of one player with a pair of the given size, alternating with and without the mind and lore."""
    documents = lore_ready()
    player = f"bench-mind-{pair}"
    held = fill_the_pair(player, *PAIRS[pair])
    url = f"ws://127.0.0.1:{runtime.options.port}/ws?token={local_token(player, 'demo')}"
    samples: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    calls: dict[bool, list[collections.Counter[str]]] = {True: [], False: []}

    async def run(switch: dict[str, bool]) -> None:
        async with websockets.connect(url) as ws:
            for with_mind in (True, False):  # warm-up: the index loads, both paths run once
                switch["with_mind"] = with_mind
                await turn(ws, "Hello!", MIND_NPC)
            for index in range(turns * 2):
                with_mind = index % 2 == 0
                switch["with_mind"] = with_mind
                counter.take()
                first, reply, _ = await turn(ws, MIND_LINES[index // 2 % len(MIND_LINES)], MIND_NPC)
                calls[with_mind].append(counter.take())
                samples[with_mind].append((first, reply))

    with alternating() as switch:
        asyncio.run(run(switch))

    def medians(with_mind: bool) -> dict[str, Any]:
        firsts, replies = zip(*samples[with_mind], strict=True)
        operations = {op for c in calls[with_mind] for op in c}
        return {
            "aws_calls_median": {
                op: statistics.median(c[op] for c in calls[with_mind]) for op in sorted(operations)
            },
            "first_token_ms_p50": percentile(list(firsts), 0.5),
            "reply_ms_p50": percentile(list(replies), 0.5),
        }

    with_mind, without = medians(True), medians(False)
    return {
        "pair": held,
        "lore_documents": documents,
        "turns_each": turns,
        "with": with_mind,
        "without": without,
        "added_first_token_ms_p50": round(with_mind["first_token_ms_p50"] - without["first_token_ms_p50"], 1),
        "added_reply_ms_p50": round(with_mind["reply_ms_p50"] - without["reply_ms_p50"], 1),
        "recollect_in_process": recollect_cost(player),
    }


def recollect_cost(player: str, rounds: int = 100) -> dict[str, float]:
    """`recollect` alone (embed the line, rank the full pair, search the lore): no AWS call, warm."""
    deps = wiring.turn_deps()
    context = deps.world.turn_context("demo", MIND_NPC, player)
    assert context.npc is not None
    memories = deps.mind.memories.turn_memories("demo", MIND_NPC, player)
    timings = []
    for n in range(rounds):
        started = time.perf_counter()
        recollect(deps.mind, context.npc, context, memories, MIND_LINES[n % len(MIND_LINES)], game_time())
        timings.append((time.perf_counter() - started) * 1000)
    return {"ms_p50": round(statistics.median(timings), 2), "ms_p95": percentile(timings, 0.95)}


def run_bench(turns: int, player_counts: list[int], mind_turns: int) -> dict[str, Any]:
    # Deadlines stretched: the model is instant, but a busy laptop must not turn lateness into fallbacks.
    # Lore with static vectors: the turn searches it by meaning too, with no model call.
    runtime = LocalRuntime(
        RuntimeOptions(port=free_port(), deadline_scale=20, knowledge_embedder="static"),
        engine=InstantEngine(),
    )
    runtime.start()
    counter = CallCounter(lambda: threading.current_thread().name.startswith(TURN_THREADS))
    try:
        mind = {pair: mind_cost(runtime, counter, mind_turns, pair) for pair in PAIRS}
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
        "mind": mind,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--players", default="1,4,16,32")
    parser.add_argument("--mind-turns", type=int, default=40, help="turns with, and as many without")
    args = parser.parse_args()
    report = run_bench(args.turns, [int(p) for p in args.players.split(",")], args.mind_turns)
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
    for mind in report["mind"].values():
        print(
            f"  mind and lore ({mind['pair']['about_the_player']} + {mind['pair']['general']} memories, "
            f"{mind['lore_documents']} lore documents), {mind['turns_each']} turns each:"
        )
        for label in ("with", "without"):
            row = mind[label]
            print(
                f"    {label:>7}: first token {row['first_token_ms_p50']:.1f} ms, "
                f"reply {row['reply_ms_p50']:.1f} ms, "
                + ", ".join(f"{k} {v:g}" for k, v in row["aws_calls_median"].items())
            )
        alone = mind["recollect_in_process"]
        print(
            f"    added: first token {mind['added_first_token_ms_p50']:+.1f} ms, "
            f"reply {mind['added_reply_ms_p50']:+.1f} ms; "
            f"recollect in process {alone['ms_p50']:.2f} ms (p95 {alone['ms_p95']:.2f})"
        )
    write_report("turn_overhead", report)


if __name__ == "__main__":
    main()
