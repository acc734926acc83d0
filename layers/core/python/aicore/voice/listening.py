"""Voice in: the player's speech arrives in chunks, its end is detected, a recognizer writes it down.

Audio is the one wire format of aicore.voice.audio (PCM s16le, 16 kHz, mono). A chunk carries at
most half a second (16,000 bytes: 21,336 in base64, under API Gateway's 32 KB WebSocket frame with
the frame's other fields) and an utterance at most 60 chunks (30 s). Chunks may arrive out of
order (one invocation each); `assemble` puts them back in `seq` order and refuses gaps.

Speech ends when the client says so (`final`) or when `speech_ended` hears enough trailing
silence after speech: an energy detector in numpy, so the cloud layer needs no recognizer for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from aicore.errors import InvalidRequest, PayloadTooLarge
from aicore.voice.audio import LISTEN_MAX_CHUNKS, SAMPLE_BYTES, SAMPLE_RATE

SPEECH_END_SILENCE_S = 0.8  # trailing quiet after speech that ends the utterance
SPEECH_THRESHOLD_DBFS = -40.0  # a 30 ms frame louder than this is speech
VAD_FRAME_S = 0.03


class Recognizer(Protocol):
    def transcribe(self, pcm: bytes) -> str:
        """What was said in `pcm` (PCM s16le, 16 kHz, mono), lower case; "" when nothing was."""
        ...


def assemble(chunks: Mapping[int, bytes]) -> bytes:
    """The utterance's PCM from its chunks by `seq`; refuses gaps and utterances over the bound."""
    if len(chunks) > LISTEN_MAX_CHUNKS:
        raise PayloadTooLarge(
            f"an utterance holds at most {LISTEN_MAX_CHUNKS} chunks (30 s of speech)",
            {"max_chunks": LISTEN_MAX_CHUNKS},
        )
    missing = sorted(set(range(max(chunks, default=-1) + 1)) - set(chunks))
    if missing:
        raise InvalidRequest(
            "audio chunks are missing: send every seq from 0 before the final one",
            {"missing_seq": missing[:10]},
        )
    return b"".join(chunks[seq] for seq in sorted(chunks))


def frame_levels_dbfs(pcm: bytes, frame_s: float = VAD_FRAME_S) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The loudness of each whole frame of `pcm` in dB relative to full scale (silence is -120)."""
    samples = np.frombuffer(pcm[: len(pcm) - len(pcm) % SAMPLE_BYTES], dtype="<i2").astype(np.float64)
    frame = max(1, int(SAMPLE_RATE * frame_s))
    frames = samples[: len(samples) - len(samples) % frame].reshape(-1, frame) / 32768.0
    rms = np.sqrt(np.mean(frames**2, axis=1)) if len(frames) else np.zeros(0)
    levels: np.ndarray[Any, np.dtype[np.float64]] = 20.0 * np.log10(np.maximum(rms, 1e-6))
    return levels


def heard_speech(pcm: bytes, *, threshold_dbfs: float = SPEECH_THRESHOLD_DBFS) -> bool:
    return bool((frame_levels_dbfs(pcm) > threshold_dbfs).any())


def transcript_of(pcm: bytes, recognizer: Recognizer) -> str:
    """What the player said; "" without asking the recognizer when no frame is speech (pocketsphinx
    hears words, "dog" for one, in a second of digital silence)."""
    return recognizer.transcribe(pcm).strip() if heard_speech(pcm) else ""


def speech_ended(
    pcm: bytes,
    *,
    silence_s: float = SPEECH_END_SILENCE_S,
    threshold_dbfs: float = SPEECH_THRESHOLD_DBFS,
) -> bool:
    """True when `pcm` holds speech followed by at least `silence_s` of quiet."""
    loud = frame_levels_dbfs(pcm) > threshold_dbfs
    if not loud.any():
        return False  # nobody spoke yet: keep listening
    quiet_frames = len(loud) - 1 - int(np.flatnonzero(loud)[-1])
    return quiet_frames * VAD_FRAME_S >= silence_s
