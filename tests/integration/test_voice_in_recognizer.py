"""Voice in, real engines: a sentence spoken by the local TTS (Piper) goes in as listen chunks, the
energy detector hears it end, and the local recognizer (pocketsphinx) writes down its key words."""

from __future__ import annotations

import base64
import random

import pytest

from aicore.frames import NpcListen
from aicore.local.recognizer import PocketsphinxRecognizer
from aicore.local.speech_server import PiperEngine
from aicore.voice.audio import LISTEN_CHUNK_MAX_BYTES, SAMPLE_BYTES, SAMPLE_RATE, chunks_of
from aicore.voice.listening import assemble, speech_ended, transcript_of

SENTENCE = "What is the weather like in the valley today?"


@pytest.fixture(scope="module")
def spoken() -> bytes:
    """The sentence in Piper's voice, then a second of silence: the player stopped talking."""
    return PiperEngine().synthesize(SENTENCE, SAMPLE_RATE) + b"\x00" * (SAMPLE_RATE * SAMPLE_BYTES)


def test_a_spoken_sentence_in_chunks_ends_and_is_written_down(spoken: bytes) -> None:
    # Given the speech as the client sends it: base64 chunks, each validated as at the edge
    chunks = [
        NpcListen.model_validate(
            {
                "action": "npc.listen",
                "request_id": "r-1",
                "npc_id": "mira",
                "seq": seq,
                "audio": base64.b64encode(pcm).decode(),
            }
        )
        for seq, pcm in enumerate(chunks_of(spoken, LISTEN_CHUNK_MAX_BYTES))
    ]
    assert len(chunks) >= 4
    # When they arrive one by one, the detector hears no end until the trailing silence is in
    heard = b""
    ended_at = None
    for chunk in chunks:
        heard += chunk.audio
        if speech_ended(heard):
            ended_at = chunk.seq
            break
    assert ended_at is not None
    assert ended_at >= len(chunks) - 2
    # And the utterance, stored out of order, is put back together and recognized
    stored = {chunk.seq: chunk.audio for chunk in chunks[: ended_at + 1]}
    shuffled = dict(random.Random(3).sample(sorted(stored.items()), len(stored)))
    text = transcript_of(assemble(shuffled), PocketsphinxRecognizer())

    assert "weather" in text.split(), text
    assert "today" in text.split(), text


def test_silence_is_written_down_as_nothing() -> None:
    # (pocketsphinx alone hears "dog" in a second of digital silence: the detector keeps it out)
    second_of_silence = b"\x00" * SAMPLE_RATE * SAMPLE_BYTES

    assert transcript_of(second_of_silence, PocketsphinxRecognizer()) == ""
    assert PocketsphinxRecognizer().transcribe(b"") == ""
