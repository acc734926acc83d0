"""First-token latency and tokens/s of the local model: llama.cpp directly vs the local SageMaker server.

The server path is the production one: `SageMakerEndpoint.stream_chat` -> boto3
`invoke_endpoint_with_response_stream` -> loopback HTTP -> aiohttp -> event-stream frames -> back.
Both paths share one loaded model and take turns, run after run. Every call is a new player line
to the same NPC persona: llama.cpp reuses the cached persona, never a whole cached prompt, so both
paths pay the same prompt work.

    .venv/bin/python -m bench.model_stream [--runs 20] [--max-tokens 64]

Prints a table and writes bench/results/model_stream.json.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict

from aicore.aws.sagemaker_runtime import SageMakerEndpoint
from aicore.llm.endpoint import ChatCall, TierTarget
from aicore.llm.wire import ChatCompletionChunk, ChatMessage, ChatRequest
from aicore.local.model_server import LlamaEngine, ModelServerThread, local_endpoint_names
from bench.common import StreamSample, machine, stream_summary, write_report

PERSONA = "You are Brom, the village blacksmith. You are gruff but kind. Answer in one or two short lines."
PLAYER_LINES = ["Hello! What do you sell?", "Can you fix my sword?", "Any news from the capital?"]

Stream = Callable[[list[ChatMessage]], Iterator[str]]


def measure(stream: Stream, messages: list[ChatMessage]) -> StreamSample:
    started = time.perf_counter()
    first_token_at = 0.0
    tokens = 0
    for _delta in stream(messages):
        tokens += 1
        if tokens == 1:
            first_token_at = time.perf_counter()
    ended = time.perf_counter()
    return StreamSample((first_token_at - started) * 1000, (ended - started) * 1000, tokens)


def direct(engine: LlamaEngine, max_tokens: int) -> Stream:
    def stream(messages: list[ChatMessage]) -> Iterator[str]:
        request = ChatRequest(messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True)
        for chunk in engine.stream(request):
            text = ChatCompletionChunk.model_validate(chunk).text
            if text:
                yield text

    return stream


def through_server(endpoint: SageMakerEndpoint, endpoint_name: str, max_tokens: int) -> Stream:
    def stream(messages: list[ChatMessage]) -> Iterator[str]:
        return endpoint.stream_chat(
            ChatCall(
                TierTarget(endpoint_name), messages, max_tokens=max_tokens, temperature=0.0, timeout_s=30
            )
        )

    return stream


def conversation(run: int) -> list[ChatMessage]:
    line = PLAYER_LINES[run % len(PLAYER_LINES)]
    return [ChatMessage(role="system", content=PERSONA), ChatMessage(role="user", content=f"{line} (#{run})")]


def run_bench(runs: int, max_tokens: int) -> dict[str, object]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")  # loopback only: nothing checks them
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    engine = LlamaEngine()
    gold = local_endpoint_names()[0]
    with ModelServerThread(engine, [gold]) as url:
        paths = {
            "llama direct": direct(engine, max_tokens),
            "server + boto3": through_server(
                SageMakerEndpoint(region_name="us-east-1", endpoint_url=url), gold, max_tokens
            ),
        }
        for stream in paths.values():  # warm up: first load of code paths, client, connection
            measure(stream, conversation(-1))
        samples: dict[str, list[StreamSample]] = {name: [] for name in paths}
        for run in range(runs):
            for index, (name, stream) in enumerate(paths.items()):
                samples[name].append(measure(stream, conversation(run * len(paths) + index)))
    return {
        "bench": "model_stream",
        "model": engine.model_name,
        "runs": runs,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "machine": machine(),
        "results": {name: stream_summary(found) for name, found in samples.items()},
        "samples": {name: [asdict(sample) for sample in found] for name, found in samples.items()},
    }


def print_table(report: dict[str, object]) -> None:
    results = report["results"]
    assert isinstance(results, dict)
    print(f"{report['model']}, median of {report['runs']} runs, max_tokens={report['max_tokens']}, greedy")
    print(f"{'path':<16} {'first token ms':>15} {'p90 ms':>8} {'tokens/s':>9} {'total ms':>9} {'tokens':>7}")
    for name, row in results.items():
        print(
            f"{name:<16} {row['first_token_ms_median']:>15.1f} {row['first_token_ms_p90']:>8.1f} "
            f"{row['tokens_per_s_median']:>9.1f} {row['total_ms_median']:>9.1f} {row['tokens_median']:>7.0f}"
        )
    direct_row, server_row = results["llama direct"], results["server + boto3"]
    overhead = server_row["first_token_ms_median"] - direct_row["first_token_ms_median"]
    print(f"server + boto3 overhead on first token: {overhead:+.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    report = run_bench(args.runs, args.max_tokens)
    print_table(report)
    write_report("model_stream", report)


if __name__ == "__main__":
    main()
