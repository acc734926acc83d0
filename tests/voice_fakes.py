"""A synthesizer for tests: deterministic PCM, a known length per character, and a record of calls."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from aicore.voice.audio import NpcVoice

BYTES_PER_CHAR = 800  # 25 ms of 16 kHz PCM per character: a sentence spans several frames


@dataclass
class FakeSynthesizer:
    spoken: list[tuple[str, NpcVoice]] = field(default_factory=list)
    failing: bool = False
    # Set: each synthesis waits for it (a test holds the voice back while the text streams).
    gate: threading.Event | None = None

    def synthesize(self, text: str, voice: NpcVoice) -> bytes:
        if self.gate is not None:
            self.gate.wait(timeout=30)
        if self.failing:
            raise RuntimeError("ThrottlingException: rate exceeded")
        self.spoken.append((text, voice))
        return pcm_of(text)


def pcm_of(text: str) -> bytes:
    return bytes((ord(c) + i) % 256 for i, c in enumerate(text)) * BYTES_PER_CHAR
