"""Voice in, cloud: Amazon Transcribe streaming over its WebSocket API (no awscrt in the layer).

One utterance per connection: a presigned `GET /stream-transcription-websocket`, the PCM sent as
`AudioEvent`s, an empty one to end the audio, then `TranscriptEvent`s until Transcribe closes.
Every message both ways is an AWS event-stream message (aicore.aws.eventstream).

The same code runs on a laptop: `AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING` (set by `aicore local`)
points it at the local speech server, which speaks this protocol with pocketsphinx behind it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from types import TracebackType
from typing import NoReturn, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import boto3
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.eventstream import EventStreamMessage, ParserError
from botocore.exceptions import BotoCoreError
from pydantic import BaseModel, ValidationError
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, WebSocketException
from websockets.sync.client import connect as websocket_connect

from aicore.aws.eventstream import decode_message, event_message
from aicore.errors import ModelUnavailable
from aicore.observability import logger
from aicore.voice.audio import SAMPLE_RATE, chunks_of

ENDPOINT_ENV = "AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING"
PATH = "/stream-transcription-websocket"
SIGNING_NAME = "transcribe"
LANGUAGE_CODE = "en-US"
MEDIA_ENCODING = "pcm"
URL_EXPIRES_S = 300
CONNECT_TIMEOUT_S = 3.0
CALL_TIMEOUT_S = 20.0  # connect, send and every transcript: a stuck stream must not hold the turn
# 200 ms of PCM per AudioEvent: the top of the 50-200 ms AWS recommends, under 8 KiB per event
AUDIO_EVENT_BYTES = 6_400
PLAYER_MESSAGE = "Speech could not be transcribed; try again or type your line."


class TranscribeSocket(Protocol):
    """What the recognizer needs of a WebSocket (websockets' sync client connection): closed when
    its `with` block ends."""

    def __enter__(self) -> TranscribeSocket: ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None, /
    ) -> None: ...

    def send(self, message: bytes) -> None: ...

    def recv(self, timeout: float | None = None) -> str | bytes: ...


Connect = Callable[[str, float], TranscribeSocket]  # (url, open timeout in seconds) -> socket


def open_websocket(url: str, open_timeout: float) -> TranscribeSocket:
    # No compression: PCM barely shrinks. Proxies come from the environment, as for any SDK call.
    return websocket_connect(url, open_timeout=open_timeout, compression=None, close_timeout=1)


class TranscribeFailed(Exception):
    """Why a stream failed (logged), before it becomes the player's ModelUnavailable."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class _Alternative(BaseModel):
    Transcript: str = ""


class _Result(BaseModel):
    IsPartial: bool
    Alternatives: list[_Alternative] = []


class _Transcript(BaseModel):
    Results: list[_Result] = []


class TranscriptEvent(BaseModel):
    """The JSON payload of a `TranscriptEvent` (the fields aicore reads; the rest is ignored)."""

    Transcript: _Transcript


def audio_event(pcm: bytes) -> bytes:
    """One `AudioEvent` message; an empty one tells Transcribe the audio has ended."""
    return event_message("AudioEvent", pcm)


def audio_events(pcm: bytes) -> Iterator[bytes]:
    for chunk in chunks_of(pcm, AUDIO_EVENT_BYTES):
        yield audio_event(chunk)
    yield audio_event(b"")


def final_transcripts(message: EventStreamMessage) -> list[str]:
    """The finished sentences of one message from Transcribe (partials are revised later: skipped).

    Raises TranscribeFailed for an exception message (`BadRequestException`, `LimitExceededException`...).
    """
    headers = message.headers
    if headers.get(":message-type") == "exception":
        raise TranscribeFailed(
            str(headers.get(":exception-type", "exception")), _exception_text(message.payload)
        )
    if headers.get(":message-type") != "event" or headers.get(":event-type") != "TranscriptEvent":
        return []
    event = TranscriptEvent.model_validate_json(message.payload)
    return [
        result.Alternatives[0].Transcript
        for result in event.Transcript.Results
        if not result.IsPartial and result.Alternatives
    ]


def collect_transcript(socket: TranscribeSocket, deadline: float, clock: Callable[[], float]) -> str:
    """Every final transcript Transcribe sends until it closes the stream, as one lower-case line."""
    finals: list[str] = []
    while True:
        left = deadline - clock()
        if left <= 0:
            raise TranscribeFailed("Timeout", "no end of the transcript in time")
        try:
            frame = socket.recv(timeout=left)
        except ConnectionClosedOK:
            break
        if isinstance(frame, str):
            raise TranscribeFailed("UnexpectedFrame", "a text frame where event-stream messages belong")
        finals.extend(final_transcripts(decode_message(frame)))
    return " ".join(" ".join(finals).split()).lower()


class TranscribeRecognizer:
    """`Recognizer` (aicore.voice.listening) over Transcribe streaming, one connection per utterance."""

    def __init__(
        self,
        session: boto3.Session | None = None,
        *,
        endpoint: str | None = None,
        connect: Connect = open_websocket,
        timeout_s: float = CALL_TIMEOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._given_session = session
        self._endpoint = endpoint
        self._connect = connect
        self._timeout_s = timeout_s
        self._clock = clock

    @cached_property
    def _session(self) -> boto3.Session:
        return self._given_session or boto3.Session()

    def transcribe(self, pcm: bytes) -> str:
        if not pcm:
            return ""
        deadline = self._clock() + self._timeout_s
        open_timeout = min(CONNECT_TIMEOUT_S, self._timeout_s)
        with _as_model_unavailable(), self._connect(self.presigned_url(), open_timeout) as socket:
            _send_audio(socket, pcm)
            return collect_transcript(socket, deadline, self._clock)

    def presigned_url(self) -> str:
        """The stream's URL with its query signed by SigV4 (botocore's query signer, valid 300 s)."""
        credentials = self._session.get_credentials()
        region = self._session.region_name
        if credentials is None or region is None:
            raise TranscribeFailed("NoCredentials", "no AWS credentials or region for Transcribe")
        endpoint = self._endpoint or os.environ.get(ENDPOINT_ENV) or default_endpoint(region)
        scheme, netloc, *_ = urlsplit(endpoint)
        query = urlencode(
            {
                "language-code": LANGUAGE_CODE,
                "media-encoding": MEDIA_ENCODING,
                "sample-rate": str(SAMPLE_RATE),
            }
        )
        # SigV4 signs the https form of the URL; the WebSocket client opens its wss form
        http_scheme = {"wss": "https", "ws": "http"}.get(scheme, scheme)
        request = AWSRequest(method="GET", url=urlunsplit((http_scheme, netloc, PATH, query, "")))
        SigV4QueryAuth(credentials.get_frozen_credentials(), SIGNING_NAME, region, URL_EXPIRES_S).add_auth(
            request
        )
        signed: str = request.url
        return urlunsplit((scheme, *urlsplit(signed)[1:]))


def _send_audio(socket: TranscribeSocket, pcm: bytes) -> None:
    try:
        for message in audio_events(pcm):
            socket.send(message)
    except ConnectionClosed:
        pass  # Transcribe ended the stream early: why (an exception message) is read next


def default_endpoint(region: str) -> str:
    return f"wss://transcribestreaming.{region}.amazonaws.com:8443"


def _exception_text(payload: bytes) -> str:
    try:
        body = json.loads(payload)
    except ValueError:
        return "unreadable exception message"
    return str(body.get("Message", "no message")) if isinstance(body, dict) else "no message"


@contextmanager
def _as_model_unavailable() -> Iterator[None]:
    """Every way the stream fails becomes the one error a player can act on; the cause is logged."""
    try:
        yield
    except TranscribeFailed as failure:
        _refuse(failure.reason, str(failure))
    except (WebSocketException, OSError, ParserError, BotoCoreError, ValidationError) as error:
        _refuse(type(error).__name__, str(error))


def _refuse(reason: str, detail: str) -> NoReturn:
    logger.warning("Transcribe streaming failed", extra={"reason": reason, "detail": detail[:300]})
    raise ModelUnavailable(PLAYER_MESSAGE, details={"reason": reason}) from None
