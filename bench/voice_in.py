"""Voice in on the local runtime: how soon the player's line is written down once they stop talking,
and how fast the local recognizer is, through the same Transcribe streaming protocol the cloud uses.

"transcript after the end": a client sends a question spoken by Piper, then quiet, as `npc.listen`
chunks of 0.5 s (each after the previous one's answer) to `aicore local` (in process), and times
from sending the chunk the server ended the utterance on (0.8 s of silence heard) to its
`npc.transcript`, and on to the reply's first token. "recognition": the same utterances straight
through the Transcribe adapter to the local server (pocketsphinx): seconds per second of audio.

    .venv/bin/python -m bench.voice_in [--runs 5]

Prints a table and writes bench/results/voice_in.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import time
from typing import Any

import websockets

from aicore.aws.transcribe import TranscribeRecognizer
from aicore.local.speech_server import PiperEngine
from aicore.voice.audio import LISTEN_CHUNK_MAX_BYTES, SAMPLE_BYTES, SAMPLE_RATE, chunks_of, seconds_of
from bench.common import machine, measured_runtime, write_report

QUESTIONS = [
    "What is the weather like in the valley today?",
    "Do you have a room for the night?",
    "Where can I find the harbor master?",
]
QUIET = bytes(2 * SAMPLE_RATE * SAMPLE_BYTES)  # the player stopped talking


async def spoken_turn(url: str, pcm: bytes, request_id: str) -> dict[str, Any]:
    """Milliseconds from the chunk that ended the utterance to its transcript and the first token."""
    marks: dict[str, Any] = {}
    chunks = chunks_of(pcm, LISTEN_CHUNK_MAX_BYTES)
    async with websockets.connect(url, max_size=None) as ws:
        for seq, chunk in enumerate(chunks):
            frame = {"action": "npc.listen", "request_id": request_id, "npc_id": "mira", "seq": seq}
            frame |= {"audio": base64.b64encode(chunk).decode(), "final": seq == len(chunks) - 1}
            sent = time.perf_counter()
            await ws.send(json.dumps(frame))
            answer = json.loads(await asyncio.wait_for(ws.recv(), timeout=600))
            if answer["type"] == "error":
                raise RuntimeError(answer)
            if answer["type"] == "npc.transcript":
                marks |= {
                    "transcript_ms": (time.perf_counter() - sent) * 1000,
                    "text": answer["data"]["text"],
                }
                marks["ended_by"] = answer["data"]["ended_by"]
                break
        while True:
            answer = json.loads(await asyncio.wait_for(ws.recv(), timeout=600))
            at = (time.perf_counter() - sent) * 1000
            if answer["type"] == "npc.token":
                marks.setdefault("first_token_ms", at)
            if answer["type"] in {"npc.reply", "error"}:
                marks["reply_ok"] = answer["type"] == "npc.reply"
                return marks


def recognition(utterances: list[bytes]) -> list[dict[str, float]]:
    recognizer = TranscribeRecognizer()
    recognizer.transcribe(utterances[0])  # the model loads on first use
    rows = []
    for pcm in utterances:
        started = time.perf_counter()
        recognizer.transcribe(pcm)
        rows.append({"recognition_s": time.perf_counter() - started, "audio_s": seconds_of(pcm)})
    return rows


def run_bench(runs: int) -> dict[str, Any]:
    with measured_runtime() as player_url:
        piper = PiperEngine()
        utterances = [piper.synthesize(q, SAMPLE_RATE) + QUIET for q in QUESTIONS]
        recognized = recognition(utterances)
        turns = []
        for run in range(runs + 1):  # run 0 warms up and is not kept
            pcm = utterances[run % len(utterances)]
            marks = asyncio.run(spoken_turn(player_url(f"ears-{run}"), pcm, f"listen-{run}"))
            if run:
                turns.append(marks)
    return {
        "bench": "voice_in",
        "runs": runs,
        "machine": machine(),
        "engine": "pocketsphinx 5.1.1 (its English model) behind the local Transcribe streaming API",
        "results": {
            "transcript_after_end_ms_median": statistics.median(t["transcript_ms"] for t in turns),
            "transcript_after_end_ms_max": max(t["transcript_ms"] for t in turns),
            "first_token_after_end_ms_median": statistics.median(t["first_token_ms"] for t in turns),
            "ended_by_silence": sum(t["ended_by"] == "silence" for t in turns),
            "recognition_real_time_factor_median": statistics.median(
                r["recognition_s"] / r["audio_s"] for r in recognized
            ),
        },
        "turns": turns,
        "recognition": recognized,
    }


def print_table(report: dict[str, Any]) -> None:
    results = report["results"]
    print(f"{report['engine']}; {report['runs']} spoken turns, {report['machine']['cpus']} CPUs")
    print(f"{'measure':<44} {'value':>10}")
    rows = [
        ("transcript after the end (ms, median)", results["transcript_after_end_ms_median"]),
        ("transcript after the end (ms, max)", results["transcript_after_end_ms_max"]),
        ("first token after the end (ms, median)", results["first_token_after_end_ms_median"]),
        ("recognition real-time factor (median)", results["recognition_real_time_factor_median"]),
    ]
    for name, value in rows:
        print(f"{name:<44} {value:>10.2f}")
    print(f"ended by the silence heard: {results['ended_by_silence']} of {report['runs']}")
    for turn in report["turns"]:
        print(f"  heard: {turn['text']!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    report = run_bench(parser.parse_args().runs)
    print_table(report)
    write_report("voice_in", report)


if __name__ == "__main__":
    main()
