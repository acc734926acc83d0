"""Resume after a dropped connection: how long a client waits to be back where it was.

A player's client says `connection.hello` (its resume token), follows a session and drops. While
it is away, K lines land in the session (`POST /sessions/{id}/messages`, the player on another
device). It reconnects and sends `connection.resume` with `last_seq`; the server sends the K missed
lines as `session.message` frames, then `connection.resumed`. Measured per K and per encoding (JSON,
protobuf), on `aicore local` in process (moto server, the real gateway and handlers; an instant
model, which resume never calls):

- connect: the WebSocket handshake ($connect and the authorizer), ms;
- resume: `connection.resume` sent -> `connection.resumed` read, every missed line before it, ms;
- bytes: what the client downloaded for the resume.

    .venv/bin/python -m bench.resume [--samples 15]

Prints a table and writes bench/results/resume.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any

from websockets.asyncio.client import connect as open_socket

from aicore.local.embedded_aws import free_port
from aicore.local.runtime import LocalRuntime, RuntimeOptions, local_token
from aicore_client import Codec, JsonCodec
from aicore_client.protobuf import ProtobufCodec
from bench.common import machine, write_report
from bench.turn_overhead import InstantEngine
from tests.clients import http_json

MISSED = (0, 10, 50, 200)  # 200 is the most one resume sends per session
CODECS: dict[str, Codec] = {"json": JsonCodec(), "protobuf": ProtobufCodec()}
PER_APPEND = 25  # the most one POST /sessions/{id}/messages takes


class Stand:
    """One player and one session on the running runtime."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.base = f"http://127.0.0.1:{runtime.options.port}"
        self.ws_url = f"ws://127.0.0.1:{runtime.options.port}/ws"
        self.player = f"bench-resume-{uuid.uuid4().hex[:8]}"
        self.token = local_token(self.player, "demo")
        participants = [{"id": self.player, "kind": "player"}, {"id": "borin", "kind": "npc"}]
        status, created = http_json(
            f"{self.base}/sessions", self.token, "POST", {"participants": participants}
        )
        assert status == 201, created
        self.session_id = str(created["data"]["session_id"])
        self.last_seq = 0
        self.speaker = {"id": self.player, "kind": "player"}  # a player speaks only as themselves

    def miss(self, count: int) -> None:
        """`count` lines land while the client is away."""
        for start in range(0, count, PER_APPEND):
            lines = [
                {"speaker": self.speaker, "text": f"Line {start + i}, said on another device."}
                for i in range(min(PER_APPEND, count - start))
            ]
            url = f"{self.base}/sessions/{self.session_id}/messages"
            status, answer = http_json(url, self.token, "POST", {"messages": lines})
            assert status == 201, answer

    async def hello(self, codec: Codec) -> str:
        async with open_socket(self.ws_url + f"?token={self.token}", subprotocols=_offer(codec)) as ws:
            await ws.send(codec.encode({"action": "connection.hello", "request_id": "hello"}))
            welcome = codec.decode(await ws.recv())
        assert welcome["type"] == "connection.welcome", welcome
        return str(welcome["data"]["resume_token"])

    async def resume(self, codec: Codec, resume_token: str, expected: int) -> dict[str, float]:
        started = time.perf_counter()
        async with open_socket(self.ws_url + f"?token={self.token}", subprotocols=_offer(codec)) as ws:
            connected = time.perf_counter()
            frame = {
                "action": "connection.resume",
                "request_id": f"resume-{uuid.uuid4().hex[:8]}",
                "resume_token": resume_token,
                "last_seq": {self.session_id: self.last_seq},
            }
            await ws.send(codec.encode(frame))
            received = downloaded = 0
            while True:
                message = await ws.recv()
                downloaded += len(message)
                answer = codec.decode(message)
                if answer["type"] == "session.message":
                    received += 1
                    self.last_seq = int(answer["data"]["seq"])
                elif answer["type"] == "connection.resumed":
                    break
                else:
                    raise AssertionError(f"resume answered {answer}")
            resumed = time.perf_counter()
        assert received == expected, (received, expected)
        return {
            "connect_ms": (connected - started) * 1000,
            "resume_ms": (resumed - connected) * 1000,
            "bytes": downloaded,
        }


def _offer(codec: Codec) -> list[Any] | None:
    return [codec.subprotocol] if codec.subprotocol else None


async def measure(runtime: LocalRuntime, samples: int) -> dict[str, dict[str, dict[str, float]]]:
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, codec in CODECS.items():
        for missed in MISSED:
            stand = Stand(runtime)
            resume_token = await stand.hello(codec)
            runs = []
            for sample in range(samples + 1):
                await asyncio.to_thread(stand.miss, missed)
                run = await stand.resume(codec, resume_token, missed)
                if sample:  # the first warms the path up
                    runs.append(run)
            results.setdefault(name, {})[str(missed)] = {
                key: statistics.median(run[key] for run in runs)
                for key in ("connect_ms", "resume_ms", "bytes")
            }
    return results


def run_bench(samples: int) -> dict[str, Any]:
    runtime = LocalRuntime(RuntimeOptions(port=free_port()), engine=InstantEngine())
    runtime.start()
    try:
        results = asyncio.run(measure(runtime, samples))
    finally:
        runtime.stop()
    return {"bench": "resume", "samples": samples, "machine": machine(), "results": results}


def print_table(report: dict[str, Any]) -> None:
    print(f"resume after a drop, aicore local in process, median of {report['samples']} samples")
    print(f"{'encoding':<9} {'missed':>6} {'connect ms':>11} {'resume ms':>10} {'bytes':>8}")
    for encoding, rows in report["results"].items():
        for missed, row in rows.items():
            print(
                f"{encoding:<9} {missed:>6} {row['connect_ms']:>11.1f} {row['resume_ms']:>10.1f} "
                f"{row['bytes']:>8.0f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()
    report = run_bench(args.samples)
    print_table(report)
    write_report("resume", report)


if __name__ == "__main__":
    main()
