"""Voice in, domain: listen chunks are bounded and strict, an utterance is put back in order, and the
energy detector hears the end of speech."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from pydantic import ValidationError

from aicore.errors import InvalidRequest, PayloadTooLarge
from aicore.frames import NpcListen
from aicore.voice.audio import LISTEN_CHUNK_MAX_BYTES, LISTEN_MAX_CHUNKS, SAMPLE_RATE
from aicore.voice.listening import (
    assemble,
    frame_levels_dbfs,
    speech_ended,
    transcript_of,
)


def tone(seconds: float, amplitude: float = 0.3, hz: float = 220.0) -> bytes:
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * hz * t) * amplitude * 32767).astype("<i2").tobytes()


def quiet(seconds: float, amplitude: float = 0.0) -> bytes:
    noise = np.random.default_rng(7).normal(0.0, amplitude * 32767, int(SAMPLE_RATE * seconds))
    return noise.astype("<i2").tobytes()


def b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode("ascii")


def chunk_frame(fields: dict[str, object]) -> NpcListen:
    return NpcListen.model_validate({"action": "npc.listen", "request_id": "r-1", "npc_id": "mira", **fields})


def test_a_chunk_takes_base64_audio() -> None:
    pcm = tone(0.1)

    assert chunk_frame({"seq": 0, "audio": b64(pcm)}).audio == pcm
    assert chunk_frame({"seq": 3, "audio": b64(pcm), "final": True}).final


@pytest.mark.parametrize(
    ("chunk", "complaint"),
    [
        ({"seq": 0, "audio": "not base64!"}, "base64"),
        ({"seq": 0, "audio": b64(b"\x00" * (LISTEN_CHUNK_MAX_BYTES + 2))}, "at most"),
        ({"seq": 0, "audio": b64(b"\x00\x01\x02")}, "whole 16-bit samples"),
        ({"seq": LISTEN_MAX_CHUNKS, "audio": ""}, "less than"),
        ({"seq": -1, "audio": ""}, "greater than"),
        ({"seq": "1", "audio": ""}, "integer"),
        ({"seq": 0, "audio": 12}, "base64 string"),
    ],
)
def test_a_chunk_out_of_bounds_is_refused_with_a_reason(chunk: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        chunk_frame(chunk)


def test_chunks_arriving_out_of_order_are_put_back_in_order() -> None:
    assert assemble({2: b"cc", 0: b"aa", 1: b"bb"}) == b"aabbcc"
    assert assemble({}) == b""


def test_an_utterance_with_a_gap_names_the_missing_chunks() -> None:
    with pytest.raises(InvalidRequest) as refused:
        assemble({0: b"aa", 3: b"dd"})

    assert refused.value.details == {"missing_seq": [1, 2]}


def test_an_utterance_over_its_bound_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge):
        assemble({seq: b"\x00\x00" for seq in range(LISTEN_MAX_CHUNKS + 1)})


def test_levels_are_per_frame_in_dbfs() -> None:
    levels = frame_levels_dbfs(tone(0.3, amplitude=0.5) + quiet(0.3))

    assert len(levels) == 20  # 0.6 s in 30 ms frames
    assert levels[:10].min() > -12  # a half-scale sine: about -9 dBFS
    assert levels[10:].max() == pytest.approx(-120)


@pytest.mark.parametrize(
    ("pcm", "ended"),
    [
        (quiet(2.0, amplitude=0.001), False),  # room noise only: nobody spoke yet
        (tone(1.0), False),  # still speaking
        (tone(1.0) + quiet(0.3, amplitude=0.001), False),  # a pause between words
        (tone(1.0) + quiet(0.9, amplitude=0.001), True),  # trailing silence: the player is done
        (quiet(0.5) + tone(0.5) + quiet(1.0) + tone(0.2), False),  # spoke again after a pause
        (b"", False),
    ],
)
def test_speech_ends_after_enough_trailing_silence(pcm: bytes, ended: bool) -> None:
    assert speech_ended(pcm) is ended


def test_the_silence_needed_is_a_setting() -> None:
    pcm = tone(0.5) + quiet(0.4)

    assert speech_ended(pcm, silence_s=0.3)
    assert not speech_ended(pcm, silence_s=0.6)


class RecordingRecognizer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.heard: list[bytes] = []

    def transcribe(self, pcm: bytes) -> str:
        self.heard.append(pcm)
        return self.text


def test_speech_is_written_down_by_the_recognizer() -> None:
    recognizer = RecordingRecognizer(" what is the weather \n")
    pcm = tone(0.5) + quiet(0.9)

    assert transcript_of(pcm, recognizer) == "what is the weather"
    assert recognizer.heard == [pcm]


def test_without_speech_the_recognizer_is_not_asked() -> None:
    recognizer = RecordingRecognizer("dog")

    assert transcript_of(quiet(1.0, amplitude=0.001), recognizer) == ""
    assert transcript_of(b"", recognizer) == ""
    assert recognizer.heard == []
