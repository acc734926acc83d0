"""Voice out: the reply's sentences synthesized beside the token stream, pushed as `npc.audio`.

The turn hands every piece of text it streams to `VoiceStream.add`; each sentence that completes
is queued, and a thread of its own synthesizes it (Polly in the cloud, Piper through the same API
locally) and pushes it in frames of at most half a second of PCM. The tokens never wait for audio:
the queue only grows. Audio frames may still arrive after `npc.reply`; the last one of a request
has `final: true` (and no audio). An interrupted turn drops the sentences not yet spoken.
"""

from __future__ import annotations

import base64
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from aicore.connections import ClientPusher
from aicore.observability import logger
from aicore.voice.audio import AUDIO_CHUNK_BYTES, CODEC, SAMPLE_RATE, NpcVoice, chunks_of
from aicore.voice.sentences import SentenceSplitter

AUDIO_FRAME = "npc.audio"
# The longest audio waits for the first token frame to go out (it goes within the pacing interval
# of the first token; this bounds a pusher that hangs).
FIRST_TOKEN_WAIT_S = 5.0


class Synthesizer(Protocol):
    def synthesize(self, text: str, voice: NpcVoice) -> bytes:
        """`text` spoken by `voice`: PCM s16le, 16 kHz, mono (aicore.voice.audio)."""
        ...


class AudioData(BaseModel):
    """The data of an `npc.audio` frame (schemas/frames.proto `NpcAudio`)."""

    seq: int  # 0, 1, 2... per request: play in this order
    codec: str = CODEC
    sample_rate: int = SAMPLE_RATE
    audio: str  # base64 in JSON frames; bytes in protobuf ones
    final: bool = False  # the last frame of the request: no audio follows


def audio_frame(request_id: str, seq: int, pcm: bytes, *, final: bool = False) -> dict[str, Any]:
    data = AudioData(seq=seq, audio=base64.b64encode(pcm).decode("ascii"), final=final)
    return {"type": AUDIO_FRAME, "request_id": request_id, "data": data.model_dump()}


@dataclass
class VoiceTimings:
    """What the bench reads: seconds of synthesis per second of audio, sentence by sentence."""

    sentences: int = 0
    synthesis_s: list[float] = field(default_factory=list)
    audio_s: list[float] = field(default_factory=list)


_END = None  # the queue's last item: no more sentences


class VoiceStream:
    """Synthesizes and pushes one reply's sentences from a background thread."""

    def __init__(
        self,
        synthesizer: Synthesizer,
        voice: NpcVoice,
        pusher: ClientPusher,
        connection_id: str,
        request_id: str,
        chunk_bytes: int = AUDIO_CHUNK_BYTES,
        after: threading.Event | None = None,
    ) -> None:
        self._synthesizer, self._voice, self._pusher = synthesizer, voice, pusher
        self._connection_id, self._request_id, self._chunk_bytes = connection_id, request_id, chunk_bytes
        self._splitter = SentenceSplitter()
        self._sentences: queue.Queue[str | None] = queue.Queue()
        self._stopped = threading.Event()  # interrupted, client gone, or synthesis failed
        self._seq = 0
        self._after = after  # audio goes out only once this is set (the first token frame is sent)
        self.timings = VoiceTimings()
        self._speaker = threading.Thread(target=self._speak_until_end, name="voice-stream", daemon=True)
        self._speaker.start()

    def add(self, text: str) -> None:
        """Text as streamed to the player; complete sentences go to synthesis."""
        for sentence in self._splitter.add(text):
            self._sentences.put(sentence)

    def close(self, *, interrupted: bool = False) -> None:
        """The reply ended: speak what is left (nothing more once interrupted). Does not wait."""
        if interrupted:
            self._stopped.set()
        elif (rest := self._splitter.rest()) is not None:
            self._sentences.put(rest)
        self._sentences.put(_END)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Until the last frame is pushed (the function must not return before); False if not yet."""
        self._speaker.join(timeout_s)
        return not self._speaker.is_alive()

    def _speak_until_end(self) -> None:
        while (sentence := self._sentences.get()) is not _END:
            if not self._stopped.is_set():
                self._speak(sentence)
        self._push(b"", final=True)

    def _speak(self, sentence: str) -> None:
        started = time.perf_counter()
        try:
            pcm = self._synthesizer.synthesize(sentence, self._voice)
        except Exception:
            logger.exception("Synthesis failed: the rest of the reply is text only")
            self._stopped.set()
            return
        self.timings.sentences += 1
        self.timings.synthesis_s.append(time.perf_counter() - started)
        self.timings.audio_s.append(len(pcm) / (SAMPLE_RATE * 2))
        for chunk in chunks_of(pcm, self._chunk_bytes):
            if self._stopped.is_set() or not self._push(chunk):
                return

    def _push(self, pcm: bytes, *, final: bool = False) -> bool:
        if self._seq == 0 and self._after is not None:
            self._after.wait(FIRST_TOKEN_WAIT_S)  # the player reads the reply's start before hearing it
        frame = audio_frame(self._request_id, self._seq, pcm, final=final)
        self._seq += 1
        try:
            delivered = self._pusher.send(self._connection_id, frame)
        except Exception:
            logger.exception("Pushing audio failed")
            delivered = False
        if not delivered:
            self._stopped.set()
        return delivered
