"""An NPC turn through the whole local backend vs the raw model: first token, tokens/s, AWS calls.

"WebSocket turn": a real WebSocket client (`aicore_client`) sends `npc.say` to `aicore local` (in
process): gateway -> npc-say handler -> DynamoDB (moto server) -> router -> SageMaker Runtime (local
model server) -> tokens pushed back through `@connections`. First token = send to first `npc.token` frame.
"model direct": the prompt the turn builds (persona, lore, memory, the conversation so far)
straight into llama.cpp. The two take turns on one loaded model, each from the same prompt-cache
state. Every AWS call the turn makes is counted by operation.

    .venv/bin/python -m bench.ws_turn [--runs 20]

Prints a table and writes bench/results/ws_turn.json.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import statistics
import time
from dataclasses import asdict
from typing import Any

from aicore import wiring
from aicore.auth import Caller
from aicore.clock import game_time
from aicore.llm.wire import ChatCompletionChunk, ChatMessage, ChatRequest
from aicore.local.embedded_aws import free_port
from aicore.local.model_server import LlamaEngine
from aicore.local.runtime import LocalRuntime, RuntimeOptions, local_token
from aicore.npc.prompt import build_prompt
from aicore.npc.recollection import recollect
from aicore.npc.turn import CONTEXT_MESSAGES, NPC_SAY_MAX_TOKENS
from aicore_client import Client, __version__, connect
from bench.common import CallCounter, StreamSample, machine, stream_summary, write_report

LINES = ["Can you forge me a sword?", "What news from the mountains?", "Is the forge hot today?"]
NPC = "borin"
PLAYER = "bench-player"


async def websocket_turn(client: Client, line: str) -> tuple[StreamSample, int]:
    """The turn as the client sees it (through aicore_client), and how many token frames carried it."""
    started = time.perf_counter()
    turn = await client.say(NPC, line)
    first = 0.0
    frames = 0
    async for _ in turn.tokens():
        frames += 1
        if frames == 1:
            first = (time.perf_counter() - started) * 1000
    reply = await turn.reply()
    tokens = int(reply.timings["tokens"])
    return StreamSample(first, (time.perf_counter() - started) * 1000, tokens), frames


def reset_prompt_cache(engine: LlamaEngine) -> None:
    """llama.cpp reuses the previous prompt's longest common prefix: start both paths equal."""
    unrelated = [ChatMessage(role="user", content="Count to three.")]
    list(engine.stream(ChatRequest(messages=unrelated, max_tokens=1, temperature=0.0, stream=True)))


def direct_turn(engine: LlamaEngine, line: str) -> StreamSample:
    """The prompt the turn would build (persona, lore, mind, the session so far), into llama.cpp."""
    context = wiring.world().turn_context("demo", NPC, PLAYER)
    npc = context.npc
    assert npc is not None
    mind = wiring.turn_mind()
    memories = mind.memories.turn_memories("demo", NPC, PLAYER)
    recalled = recollect(mind, npc, context, memories, line, game_time())
    caller = Caller(subject=PLAYER, world_id="demo")
    history = wiring.session_service().conversation(caller, NPC, None, CONTEXT_MESSAGES).messages
    messages = build_prompt(npc, recalled.lore, context.memory, history, line, mind=recalled.prompt_section())
    request = ChatRequest(messages=messages, max_tokens=NPC_SAY_MAX_TOKENS, temperature=0.7, stream=True)
    reset_prompt_cache(engine)
    started = time.perf_counter()
    first = 0.0
    tokens = 0
    for chunk in engine.stream(request):
        if ChatCompletionChunk.model_validate(chunk).text:
            tokens += 1
            if tokens == 1:
                first = (time.perf_counter() - started) * 1000
    return StreamSample(first, (time.perf_counter() - started) * 1000, tokens)


async def alternate(
    runtime: LocalRuntime, engine: LlamaEngine, runs: int, counter: CallCounter
) -> tuple[dict[str, list[StreamSample]], list[collections.Counter[str]], list[int]]:
    """One player on one connection, as a game client would; run 0 warms up and is not kept."""
    samples: dict[str, list[StreamSample]] = {"model direct": [], "WebSocket turn": []}
    calls_per_turn: list[collections.Counter[str]] = []
    token_frames: list[int] = []
    url = f"ws://127.0.0.1:{runtime.options.port}/ws"
    async with await connect(url, local_token(PLAYER, "demo"), client=f"bench/{__version__}") as client:
        for run in range(runs + 1):
            line = LINES[run % len(LINES)]
            direct = direct_turn(engine, f"{line} (#{run}, direct)")
            reset_prompt_cache(engine)
            counter.take()
            turn, frames = await websocket_turn(client, f"{line} (#{run}, ws)")
            await asyncio.sleep(0.5)  # the turn's event is delivered: its calls are counted with it
            calls = counter.take()
            if run:
                samples["model direct"].append(direct)
                samples["WebSocket turn"].append(turn)
                calls_per_turn.append(calls)
                token_frames.append(frames)
    return samples, calls_per_turn, token_frames


def run_bench(runs: int) -> dict[str, Any]:
    engine = LlamaEngine()
    runtime = LocalRuntime(RuntimeOptions(port=free_port()), engine=engine)
    started = time.perf_counter()
    runtime.start()
    ready_s = time.perf_counter() - started
    counter = CallCounter()
    try:
        samples, calls_per_turn, token_frames = asyncio.run(alternate(runtime, engine, runs, counter))
    finally:
        runtime.stop()
    # SQS calls are the local runtime's own event plumbing (EventBridge invokes Lambda directly).
    operations = {op for calls in calls_per_turn for op in calls if not op.startswith("sqs:")}
    typical_calls = {op: statistics.median(c[op] for c in calls_per_turn) for op in operations}
    return {
        "bench": "ws_turn",
        "runs": runs,
        "max_tokens": NPC_SAY_MAX_TOKENS,
        "ready_s": round(ready_s, 2),
        "machine": machine(),
        "results": {name: stream_summary(found) for name, found in samples.items()},
        "aws_calls_per_turn_median": dict(sorted(typical_calls.items())),
        "token_frames_per_turn_median": statistics.median(token_frames),
        "samples": {name: [asdict(s) for s in found] for name, found in samples.items()},
    }


def print_table(report: dict[str, Any]) -> None:
    print(f"SmolLM2-135M via llama.cpp, median of {report['runs']} runs, max_tokens={report['max_tokens']}")
    print(f"local runtime ready in {report['ready_s']} s (in process)")
    print(f"{'path':<16} {'first token ms':>15} {'tokens/s':>9} {'total ms':>9} {'tokens':>7}")
    for name, row in report["results"].items():
        print(
            f"{name:<16} {row['first_token_ms_median']:>15.1f} {row['tokens_per_s_median']:>9.1f} "
            f"{row['total_ms_median']:>9.1f} {row['tokens_median']:>7.0f}"
        )
    direct, turn = report["results"]["model direct"], report["results"]["WebSocket turn"]
    print(
        "WebSocket turn overhead on first token: "
        f"{turn['first_token_ms_median'] - direct['first_token_ms_median']:+.1f} ms"
    )
    calls = report["aws_calls_per_turn_median"]
    pushes = sum(v for k, v in calls.items() if k.startswith("apigatewaymanagementapi"))
    print(f"AWS calls per turn (median): {sum(calls.values()):.0f}, of which {pushes:.0f} frame pushes")
    print(f"token frames per turn (median): {report['token_frames_per_turn_median']:.0f}")
    for operation, count in calls.items():
        print(f"  {operation:<50} {count:>4.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    report = run_bench(args.runs)
    print_table(report)
    write_report("ws_turn", report)


if __name__ == "__main__":
    main()
