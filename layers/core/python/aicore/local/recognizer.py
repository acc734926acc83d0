"""The offline recognizer of `aicore local`: pocketsphinx with the English model its wheel ships.

It sits behind aicore.voice.listening.Recognizer, as Amazon Transcribe does in the cloud.
pocketsphinx is a local dependency only (it is not in the Lambda layer), so it is imported on use.
"""

from __future__ import annotations

import threading
from typing import Any

from aicore.voice.audio import SAMPLE_RATE


class PocketsphinxRecognizer:
    """Loaded on first use (~1 s); one utterance at a time (a decoder is not thread-safe)."""

    def __init__(self) -> None:
        self._decoder: Any = None
        self._lock = threading.Lock()

    def transcribe(self, pcm: bytes) -> str:
        if not pcm:
            return ""
        with self._lock:
            decoder = self._load()
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            hypothesis = decoder.hyp()
        return " ".join(hypothesis.hypstr.split()).lower() if hypothesis is not None else ""

    def _load(self) -> Any:
        if self._decoder is None:
            from pocketsphinx import Decoder

            self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="ERROR")
        return self._decoder
