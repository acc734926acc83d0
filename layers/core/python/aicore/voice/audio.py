"""The one audio format on the wire both ways: PCM, signed 16-bit little-endian, 16 kHz, mono.

Polly's neural voices synthesize `pcm` at 16000 Hz, Transcribe streaming takes it, and so do the
local engines (Piper's output is resampled to it), so no frame ever needs a codec negotiation.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

CODEC = "pcm_s16le"
SAMPLE_RATE = 16_000
SAMPLE_BYTES = 2  # 16-bit mono: one sample per 2 bytes
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_BYTES
# Audio per `npc.audio` frame: 0.5 s is 16,000 bytes, 21,336 in base64: under API Gateway's 32 KB
# WebSocket frame (and far under its 128 KB message) with the frame's other fields.
AUDIO_CHUNK_BYTES = BYTES_PER_SECOND // 2
LISTEN_CHUNK_MAX_BYTES = AUDIO_CHUNK_BYTES  # 0.5 s of the player's speech per `npc.listen` chunk
LISTEN_MAX_CHUNKS = 60  # 30 s per utterance


class NpcVoice(BaseModel):
    """How an NPC sounds: a Polly voice id and engine. Locally the Polly-compatible server of
    `aicore local` speaks every voice id with the voice it ships (Piper's en_US joe)."""

    voice_id: str = Field("Matthew", pattern=r"^[A-Z][A-Za-z]{1,19}$", description="A Polly voice id.")
    engine: str = Field("neural", pattern=r"^(neural|standard|generative|long-form)$")


def _pcm_from_base64(value: Any) -> bytes:
    # both encodings give base64 here: aicore.wire reads a protobuf frame's bytes as the JSON frame's
    if not isinstance(value, str):
        raise ValueError("audio must be a base64 string")
    try:
        pcm = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("audio must be base64 (RFC 4648, no line breaks)") from error
    if len(pcm) > LISTEN_CHUNK_MAX_BYTES:
        raise ValueError(
            f"an audio chunk holds at most {LISTEN_CHUNK_MAX_BYTES} bytes of PCM (0.5 s); "
            "send longer speech as more chunks"
        )
    if len(pcm) % SAMPLE_BYTES:
        raise ValueError("audio must be whole 16-bit samples (an even number of bytes)")
    return pcm


Pcm = Annotated[bytes, BeforeValidator(_pcm_from_base64)]


def seconds_of(pcm: bytes) -> float:
    return len(pcm) / BYTES_PER_SECOND


def chunks_of(pcm: bytes, size: int = AUDIO_CHUNK_BYTES) -> list[bytes]:
    """The audio cut into frames' worth, on sample boundaries."""
    size -= size % SAMPLE_BYTES
    return [pcm[start : start + size] for start in range(0, len(pcm), size)]
