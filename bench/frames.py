"""Frame sizes and codec time, protobuf (aicore.proto.v1) vs JSON (aicore.json.v1), for the frames
a game client gets most: an `npc.token`, a realistic `npc.reply`, a `world.update` (weather), a
`session.message` (a line missed while away, sent on resume); and for the client's `npc.say`.

Per frame and encoding: bytes on the wire, and the median µs to encode it (what the server pays
per frame) and to decode it (what a client pays), each the median of `--rounds` rounds of
`--calls` calls. The server's path is measured as it runs: `frame_bytes` (json.dumps or
`encode_server`); the client frame's decode is `parse_client_frame` (both: bytes to validated model).

    .venv/bin/python -m bench.frames [--calls 2000] [--rounds 15]

Prints a table and writes bench/results/frames.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from aicore.connections import frame_bytes
from aicore.envelope import Envelope
from aicore.frames import parse_client_frame, reply_frame, token_frame
from aicore_client.protobuf import decode_server, wrap_client
from bench.common import machine, write_report

REPLY = {
    "session_id": "s-0f3c9a1e",
    "npc_id": "borin",
    "text": "Ale? Aye, the last cask of Harrowdale brown. Two coppers, and mind the step on your way up.",
    "tier": "gold",
    "fallback": False,
    "truncated": False,
    "seq": 1287,
    "timings": {
        "first_token_ms": 84.2,
        "model_ms": 611.5,
        "tokens": 26,
        "tokens_per_s": 48.6,
        "prompt_tokens": 512,
    },
    "mode": "balanced",
    "emotion": {
        "dominant": "joy",
        "intensities": {"joy": 0.42, "anger": 0.03, "fear": 0.0, "sadness": 0.08, "surprise": 0.1},
    },
    "relationship": {"trust": 18, "affinity": 25, "label": "friendly"},
    "phrases": [
        {"text": "Vesh tarn", "language": "ashtongue", "translation": "Safe road", "proficiency": 40}
    ],
}
FRAMES: dict[str, dict[str, Any]] = {
    "npc.token": token_frame("r-7f2a9c", " cask of"),
    "npc.reply": reply_frame(
        "r-7f2a9c",
        Envelope(
            ok=True, operation="npc.say", correlation_id="bZ1x2Fr4IAMFT6g=", duration_ms=702.4, data=REPLY
        ),
        "npc.reply",
    ),
    "world.update": {
        "type": "world.update",
        "request_id": None,
        "data": {
            "kind": "weather",
            "world_id": "demo",
            "event_id": "weather#harbor#2026-12-01T07",
            "region": "harbor",
            "occurred_at": "2026-12-01T07:00:00+00:00",
            "version": 1543,
            "hour": 1543,
            "condition": "rain",
            "previous_condition": "cloudy",
            "temperature_c": 11.5,
            "wind_kph": 22.0,
            "season": "autumn",
            "part_of_day": "morning",
        },
    },
    "session.message": {
        "type": "session.message",
        "request_id": "r-resume-1",
        "data": {
            "session_id": "s-0f3c9a1e",
            "seq": 1287,
            "speaker": {"id": "borin", "kind": "npc"},
            "text": REPLY["text"],
            "created_at": "2026-12-01T07:00:01.412+00:00",
            "correlation_id": "bZ1x2Fr4IAMFT6g=",
        },
    },
}
SAY = {"action": "npc.say", "request_id": "r-7f2a9c", "npc_id": "borin", "text": "Any ale left tonight?"}


def median_us(work: Callable[[], object], calls: int, rounds: int) -> float:
    per_round = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            work()
        per_round.append((time.perf_counter() - started) / calls * 1e6)
    return round(statistics.median(per_round), 2)


def measure_server_frame(frame: dict[str, Any], calls: int, rounds: int) -> dict[str, Any]:
    as_json, as_protobuf = frame_bytes(frame, "json"), frame_bytes(frame, "protobuf")
    return {
        "json": {
            "bytes": len(as_json),
            "encode_us": median_us(lambda: frame_bytes(frame, "json"), calls, rounds),
            "decode_us": median_us(lambda: json.loads(as_json), calls, rounds),
        },
        "protobuf": {
            "bytes": len(as_protobuf),
            "encode_us": median_us(lambda: frame_bytes(frame, "protobuf"), calls, rounds),
            "decode_us": median_us(lambda: decode_server(as_protobuf), calls, rounds),
        },
    }


def measure_client_frame(calls: int, rounds: int) -> dict[str, Any]:
    as_json = json.dumps(SAY, separators=(",", ":"))
    wrapped = json.dumps(wrap_client(SAY), separators=(",", ":"))
    return {
        "json": {
            "bytes": len(as_json),
            "decode_us": median_us(lambda: parse_client_frame(as_json), calls, rounds),
        },
        "protobuf": {
            "bytes": len(wrapped),
            "decode_us": median_us(lambda: parse_client_frame(wrapped), calls, rounds),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    server = {name: measure_server_frame(frame, args.calls, args.rounds) for name, frame in FRAMES.items()}
    client = {"npc.say": measure_client_frame(args.calls, args.rounds)}
    header = ("frame", "json B", "pb B", "json enc µs", "pb enc µs", "json dec µs", "pb dec µs")
    print("{:<16} {:>7} {:>6} {:>12} {:>10} {:>12} {:>10}".format(*header))
    for name, result in server.items():
        j, p = result["json"], result["protobuf"]
        print(
            f"{name:<16} {j['bytes']:>7} {p['bytes']:>6} {j['encode_us']:>12} {p['encode_us']:>10}"
            f" {j['decode_us']:>12} {p['decode_us']:>10}"
        )
    say = client["npc.say"]
    print(
        f"npc.say (in)     {say['json']['bytes']:>7} {say['protobuf']['bytes']:>6} (parse + validate: "
        f"json {say['json']['decode_us']} µs, protobuf {say['protobuf']['decode_us']} µs)"
    )
    report = {
        "calls": args.calls,
        "rounds": args.rounds,
        "server_frames": server,
        "client_frames": client,
        "machine": machine(),
    }
    write_report("frames", report)


if __name__ == "__main__":
    main()
