"""Voice out on the local runtime: how soon the first audio follows the first token, and how fast
Piper speaks (real-time factor), through the same Polly API the cloud uses.

"first audio after first token": a WebSocket client sends `npc.say` with `voice: true` to `aicore
local` (in process) and times its first `npc.token` and its first `npc.audio` frame; the gap is
what the voice adds before the player hears anything (the first sentence must complete, then be
synthesized). "synthesis": sentences of NPC-reply length straight through the Polly adapter to the
local Polly endpoint (Piper, en_US joe): seconds of synthesis per second of audio.

    .venv/bin/python -m bench.voice [--runs 10]

Prints a table and writes bench/results/voice.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import websockets

from aicore.aws.polly import PollySynthesizer
from aicore.voice.audio import NpcVoice, seconds_of
from bench.common import machine, measured_runtime, write_report

LINES = ["Good evening! Any rooms free tonight?", "What news from the harbor?", "Is the stew hot today?"]
SENTENCES = [
    "Welcome to the Gilded Goose, traveller.",
    "Rooms are two silver a night, and the stew is on the house.",
    "Mind the stairs; the third one creaks.",
    "Aye.",
    "If you are looking for work, the harbor master pays in coin, not promises, and he never forgets a face.",
]


async def voiced_turn(url: str, line: str, request_id: str) -> dict[str, float]:
    """Milliseconds from send to the first token, to the first audio, to the reply, to the last audio."""
    marks: dict[str, float] = {}
    async with websockets.connect(url, max_size=None) as ws:
        started = time.perf_counter()
        frame = {"action": "npc.say", "request_id": request_id, "npc_id": "mira", "text": line, "voice": True}
        await ws.send(json.dumps(frame))
        while True:
            received = json.loads(await asyncio.wait_for(ws.recv(), timeout=600))
            at = (time.perf_counter() - started) * 1000
            kind = received["type"]
            if kind == "error":
                raise RuntimeError(received)
            if kind == "npc.audio" and received["data"]["audio"]:
                marks.setdefault("first_audio_ms", at)
            marks.setdefault({"npc.token": "first_token_ms", "npc.reply": "reply_ms"}.get(kind, kind), at)
            if kind == "npc.audio" and received["data"]["final"]:
                marks["last_audio_ms"] = at
            if "last_audio_ms" in marks and "reply_ms" in marks:  # either may come first
                return marks


def synthesis(samples: int) -> list[dict[str, float]]:
    synthesizer = PollySynthesizer()
    synthesizer.synthesize("Warm up.", NpcVoice())  # the voice loads on first use (~1.5 s)
    rows = []
    for n in range(samples):
        sentence = SENTENCES[n % len(SENTENCES)]
        started = time.perf_counter()
        pcm = synthesizer.synthesize(sentence, NpcVoice())
        took = time.perf_counter() - started
        rows.append({"chars": len(sentence), "synthesis_s": took, "audio_s": seconds_of(pcm)})
    return rows


def run_bench(runs: int) -> dict[str, Any]:
    with measured_runtime() as player_url:
        spoken = synthesis(runs * 2)
        turns = []
        for run in range(runs + 1):  # run 0 warms up and is not kept
            marks = asyncio.run(
                voiced_turn(player_url(f"bench-{run}"), LINES[run % len(LINES)], f"voice-{run}")
            )
            if run:
                turns.append(marks)
    with_audio = [t for t in turns if "first_audio_ms" in t and "first_token_ms" in t]
    gaps = [t["first_audio_ms"] - t["first_token_ms"] for t in with_audio]
    rtf = [row["synthesis_s"] / row["audio_s"] for row in spoken if row["audio_s"]]
    return {
        "bench": "voice",
        "runs": runs,
        "machine": machine(),
        "engine": "Piper 1.8 (en_US joe medium, onnxruntime, CPU) behind the local Polly API",
        "results": {
            "first_audio_after_first_token_ms_median": statistics.median(gaps),
            "first_audio_after_first_token_ms_max": max(gaps),
            "first_token_ms_median": statistics.median(t["first_token_ms"] for t in with_audio),
            "first_audio_ms_median": statistics.median(t["first_audio_ms"] for t in with_audio),
            "last_audio_after_reply_ms_median": statistics.median(
                t["last_audio_ms"] - t["reply_ms"] for t in with_audio
            ),
            "turns_with_audio": len(with_audio),
            "synthesis_real_time_factor_median": statistics.median(rtf),
            "synthesis_ms_per_sentence_median": statistics.median(r["synthesis_s"] * 1000 for r in spoken),
        },
        "turns": turns,
        "synthesis": spoken,
    }


def print_table(report: dict[str, Any]) -> None:
    results = report["results"]
    print(
        f"{report['engine']}; {report['runs']} voiced turns (SmolLM2-135M), {report['machine']['cpus']} CPUs"
    )
    print(f"{'measure':<44} {'value':>10}")
    rows = [
        ("first token (ms, median)", results["first_token_ms_median"]),
        ("first audio byte (ms, median)", results["first_audio_ms_median"]),
        ("first audio after first token (ms, median)", results["first_audio_after_first_token_ms_median"]),
        ("first audio after first token (ms, max)", results["first_audio_after_first_token_ms_max"]),
        ("last audio after npc.reply (ms, median)", results["last_audio_after_reply_ms_median"]),
        ("synthesis per sentence (ms, median)", results["synthesis_ms_per_sentence_median"]),
        ("synthesis real-time factor (median)", results["synthesis_real_time_factor_median"]),
    ]
    for name, value in rows:
        print(f"{name:<44} {value:>10.2f}")
    print(f"turns with audio: {results['turns_with_audio']} of {report['runs']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    report = run_bench(parser.parse_args().runs)
    print_table(report)
    write_report("voice", report)


if __name__ == "__main__":
    main()
