"""Transcribe streaming over its WebSocket API: the messages, the presigned URL, the transcript and
every way a stream fails, against an in-memory Transcribe (no network)."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer, ParserError
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidURI
from websockets.frames import Close

from aicore.aws.eventstream import decode_message, event_message, exception_message
from aicore.aws.transcribe import (
    AUDIO_EVENT_BYTES,
    PLAYER_MESSAGE,
    TranscribeRecognizer,
    audio_event,
)
from aicore.envelope import spec_for
from aicore.errors import ModelUnavailable

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ONE_SECOND = b"\x01\x02" * 16_000


def transcript_event(*results: tuple[str, bool]) -> bytes:
    """A `TranscriptEvent` as Transcribe sends it: (text, is_partial) per result."""
    body = {
        "Transcript": {
            "Results": [
                {
                    "ResultId": str(index),
                    "IsPartial": partial,
                    "StartTime": 0.0,
                    "EndTime": 1.0,
                    "Alternatives": [{"Transcript": text, "Items": []}],
                }
                for index, (text, partial) in enumerate(results)
            ]
        }
    }
    return event_message("TranscriptEvent", json.dumps(body).encode(), "application/json")


def exception_of(exception_type: str, message: str) -> bytes:
    return exception_message(exception_type, {"Message": message})


class FakeTranscribe:
    """One stream of an in-memory Transcribe: keeps what the client sends; once the empty AudioEvent
    (end of audio) arrives, answers its scripted frames, then closes as scripted."""

    def __init__(self, answers: list[bytes | str], closing: Exception | None = None) -> None:
        self.urls: list[str] = []
        self.received: list[bytes] = []
        self.closed = False
        self._answers = list(answers)
        self._closing = closing or ConnectionClosedOK(Close(1000, ""), Close(1000, ""), True)

    def connect(self, url: str, open_timeout: float) -> FakeTranscribe:
        self.urls.append(url)
        return self

    def send(self, message: bytes) -> None:
        self.received.append(message)

    def recv(self, timeout: float | None = None) -> str | bytes:
        if not self._audio_ended():
            raise TimeoutError("the fake answers once the audio has ended")
        if self._answers:
            return self._answers.pop(0)
        raise self._closing

    def __enter__(self) -> FakeTranscribe:
        return self

    def __exit__(self, kind: object, error: object, trace: object, /) -> None:
        self.closed = True

    def _audio_ended(self) -> bool:
        return bool(self.received) and decode_message(self.received[-1]).payload == b""


def session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key=SECRET,
        aws_session_token="session-token",
        region_name="eu-west-1",
    )


def recognizer(transcribe: FakeTranscribe, clock: Callable[[], float] = lambda: 0.0) -> TranscribeRecognizer:
    return TranscribeRecognizer(
        session(), endpoint="ws://transcribe.test", connect=transcribe.connect, clock=clock
    )


@given(payload=st.binary(max_size=AUDIO_EVENT_BYTES))
def test_an_audio_event_round_trips_through_botocores_decoder(payload: bytes) -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(audio_event(payload))

    [message] = list(buffer)

    assert message.payload == payload
    assert message.headers == {
        ":message-type": "event",
        ":event-type": "AudioEvent",
        ":content-type": "application/octet-stream",
    }


def test_a_frame_must_hold_exactly_one_whole_message() -> None:
    one = audio_event(b"pcm")
    corrupted = bytearray(one)
    corrupted[-5] ^= 0xFF

    for frame in (one[:-1], one + one, one + b"\x00"):
        with pytest.raises(ParserError):
            decode_message(frame)
    with pytest.raises(ChecksumMismatch):
        decode_message(bytes(corrupted))


def test_the_presigned_url_carries_the_stream_settings_and_a_signature_never_the_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING", raising=False)

    url = TranscribeRecognizer(session()).presigned_url()

    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert (parts.scheme, parts.netloc) == ("wss", "transcribestreaming.eu-west-1.amazonaws.com:8443")
    assert parts.path == "/stream-transcription-websocket"
    assert query["language-code"] == "en-US"
    assert query["media-encoding"] == "pcm"
    assert query["sample-rate"] == "16000"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Credential"].startswith("AKIDEXAMPLE/")
    assert query["X-Amz-Credential"].endswith("/eu-west-1/transcribe/aws4_request")
    assert query["X-Amz-Expires"] == "300"
    assert query["X-Amz-SignedHeaders"] == "host"
    assert query["X-Amz-Security-Token"] == "session-token"
    assert len(query["X-Amz-Signature"]) == 64
    assert SECRET not in url
    assert "wJalrXUtnFEMI" not in url


def test_the_endpoint_comes_from_the_environment_for_the_local_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING", "ws://127.0.0.1:9000")

    url = TranscribeRecognizer(session()).presigned_url()

    assert url.startswith("ws://127.0.0.1:9000/stream-transcription-websocket?")
    assert "X-Amz-Signature=" in url


def test_audio_goes_in_small_events_and_only_final_results_make_the_transcript() -> None:
    # Given a Transcribe that revises a partial result before finishing two sentences
    transcribe = FakeTranscribe(
        [
            transcript_event(("What is", True)),
            transcript_event(("What is the weather?", False)),
            transcript_event(("Today", True), ("  Today, in the valley. ", False)),
        ]
    )

    # When two seconds of speech are transcribed
    text = recognizer(transcribe).transcribe(ONE_SECOND * 2)

    # Then the audio went as AudioEvents under 8 KiB, ended by an empty one, and partials were skipped
    sent = [decode_message(frame) for frame in transcribe.received]
    assert all(message.headers[":event-type"] == "AudioEvent" for message in sent)
    assert all(0 < len(message.payload) <= 8192 for message in sent[:-1])
    assert sent[-1].payload == b""
    assert b"".join(message.payload for message in sent) == ONE_SECOND * 2
    assert text == "what is the weather? today, in the valley."
    assert transcribe.closed


def test_no_audio_asks_nobody() -> None:
    transcribe = FakeTranscribe([])

    assert recognizer(transcribe).transcribe(b"") == ""
    assert transcribe.urls == []


def test_a_stream_with_no_final_result_is_an_empty_transcript() -> None:
    transcribe = FakeTranscribe([transcript_event(("mumble", True)), transcript_event()])

    assert recognizer(transcribe).transcribe(ONE_SECOND) == ""


def assert_player_can_act_on(failure: pytest.ExceptionInfo[ModelUnavailable], reason: str) -> None:
    assert failure.value.message == PLAYER_MESSAGE
    assert failure.value.details == {"reason": reason}
    assert spec_for(failure.value).code == "model_unavailable"


def test_an_exception_message_becomes_the_error_a_player_can_act_on() -> None:
    transcribe = FakeTranscribe([exception_of("BadRequestException", "Your stream is too big.")])

    with pytest.raises(ModelUnavailable) as failure:
        recognizer(transcribe).transcribe(ONE_SECOND)

    assert_player_can_act_on(failure, "BadRequestException")
    assert "too big" not in failure.value.message  # Transcribe's words go to the log, not the player
    assert transcribe.closed


@pytest.mark.parametrize(
    ("stream", "reason"),
    [
        (FakeTranscribe([], ConnectionClosedError(None, None)), "ConnectionClosedError"),
        (FakeTranscribe(["a text frame"]), "UnexpectedFrame"),
        (FakeTranscribe([b"short"]), "IncompleteMessage"),
        (FakeTranscribe([transcript_event(("words", False))[:-1] + b"\x00"]), "ChecksumMismatch"),
    ],
)
def test_a_broken_stream_becomes_the_error_a_player_can_act_on(stream: FakeTranscribe, reason: str) -> None:
    with pytest.raises(ModelUnavailable) as failure:
        recognizer(stream).transcribe(ONE_SECOND)

    assert_player_can_act_on(failure, reason)


def test_a_connection_that_fails_becomes_the_error_a_player_can_act_on() -> None:
    def refuse(url: str, open_timeout: float) -> FakeTranscribe:
        raise ConnectionRefusedError("nobody listens")

    with pytest.raises(ModelUnavailable) as failure:
        TranscribeRecognizer(session(), endpoint="ws://transcribe.test", connect=refuse).transcribe(
            ONE_SECOND
        )

    assert_player_can_act_on(failure, "ConnectionRefusedError")


def test_a_bad_endpoint_becomes_the_error_a_player_can_act_on() -> None:
    def invalid(url: str, open_timeout: float) -> FakeTranscribe:
        raise InvalidURI(url, "not a WebSocket URI")

    with pytest.raises(ModelUnavailable) as failure:
        TranscribeRecognizer(session(), endpoint="ws://transcribe.test", connect=invalid).transcribe(
            ONE_SECOND
        )

    assert_player_can_act_on(failure, "InvalidURI")


def test_a_stream_that_outlives_the_call_bound_is_given_up() -> None:
    # Given a clock that has passed the 20 s bound when the transcript is read
    readings = iter([0.0, 21.0])
    transcribe = FakeTranscribe([transcript_event(("late", False))])

    with pytest.raises(ModelUnavailable) as failure:
        recognizer(transcribe, clock=lambda: next(readings)).transcribe(ONE_SECOND)

    assert_player_can_act_on(failure, "Timeout")
    assert transcribe.closed
