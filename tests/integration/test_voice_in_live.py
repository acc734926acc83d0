"""Voice in, live: a sentence spoken by the local TTS (Piper) goes in through `npc.listen` (the SDK,
protobuf frames, the real gateway); the server hears it end, the local Transcribe-compatible server
(pocketsphinx) writes it down, and the transcript is the player's line of an ordinary, stored turn."""

from __future__ import annotations

import asyncio
import time

import pytest

from aicore.local.runtime import LocalRuntime, local_token
from aicore.local.speech_server import PiperEngine
from aicore.voice.audio import LISTEN_CHUNK_MAX_BYTES, SAMPLE_BYTES, SAMPLE_RATE, chunks_of
from aicore_client import connect
from aicore_client.protobuf import ProtobufCodec

pytestmark = [pytest.mark.model, pytest.mark.timeout(1200)]
SENTENCE = "What is the weather like in the valley today?"
TURN_S = 600.0


def test_a_spoken_question_is_written_down_and_answered_as_a_turn(runtime: LocalRuntime) -> None:
    # Given the question in Piper's voice and then two seconds of quiet (the player stopped talking)
    spoken = PiperEngine().synthesize(SENTENCE, SAMPLE_RATE) + bytes(2 * SAMPLE_RATE * SAMPLE_BYTES)
    chunks = chunks_of(spoken, LISTEN_CHUNK_MAX_BYTES)
    url = f"ws://127.0.0.1:{runtime.options.port}/ws"
    token = local_token(f"listener-{time.time_ns()}", "demo")

    async def speak() -> tuple[str, str, str, list[str], str, int]:
        async with await connect(url, token, codec=ProtobufCodec(), turn_timeout_s=TURN_S) as client:
            transcript, turn = await client.listen("mira", chunks)
            tokens = [token async for token in turn.tokens()]
            reply = await turn.reply()
            page = await client.history(reply.session_id)
            said = [m.text for m in page.messages if m.speaker.kind == "player"]
            return transcript.text, transcript.ended_by, reply.text, tokens, said[-1], transcript.audio_ms

    # When the client sends it chunk by chunk
    text, ended_by, reply, tokens, stored_line, audio_ms = asyncio.run(speak())

    # Then the server heard the silence before the last chunk, and wrote the question down
    assert ended_by == "silence"
    assert audio_ms < len(spoken) * 1000 // (SAMPLE_RATE * SAMPLE_BYTES)
    assert {"weather", "today"} <= set(text.split()), text
    # And the transcript was the player's line of a turn: stored, and answered as any npc.say
    assert stored_line == text
    assert reply
    assert "".join(tokens) == reply
