"""Voice in through the cloud's code on a laptop: `TranscribeRecognizer` speaks Transcribe streaming's
WebSocket protocol to the local speech server, where pocketsphinx hears what Piper (Polly's API) said."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import boto3
import pytest
import websockets.sync.client

from aicore.aws.eventstream import decode_message, encode_message
from aicore.aws.polly import PollySynthesizer
from aicore.aws.transcribe import PLAYER_MESSAGE, TranscribeRecognizer, audio_event, open_websocket
from aicore.errors import ModelUnavailable
from aicore.local.runtime import LocalRuntime
from aicore.local.speech_server import MAX_STREAM_AUDIO_BYTES, SpeechServerThread
from aicore.voice.audio import BYTES_PER_SECOND, NpcVoice

SENTENCE = "What is the weather like in the valley today?"
SECOND_OF_SILENCE = b"\x00" * BYTES_PER_SECOND
SETTINGS = "language-code=en-US&media-encoding=pcm&sample-rate=16000"


@pytest.fixture(scope="module")
def speech_server() -> Iterator[SpeechServerThread]:
    server = SpeechServerThread()
    with server:
        yield server


@pytest.fixture(scope="module")
def session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )


@pytest.fixture(scope="module")
def spoken(speech_server: SpeechServerThread, session: boto3.Session) -> bytes:
    """The sentence as the local Polly (Piper) says it, then a second of silence."""
    polly = PollySynthesizer(session.client("polly", endpoint_url=speech_server.url))
    return polly.synthesize(SENTENCE, NpcVoice()) + SECOND_OF_SILENCE


def test_speech_goes_through_the_transcribe_protocol_and_comes_back_as_words(
    speech_server: SpeechServerThread, session: boto3.Session, spoken: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the endpoint in the environment, as `aicore local` exports it
    monkeypatch.setenv("AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING", speech_server.stream_url)

    text = TranscribeRecognizer(session).transcribe(spoken)

    assert "weather" in text.split(), text
    assert "today" in text.split(), text
    assert text == text.lower()


def test_silence_is_transcribed_as_nothing(speech_server: SpeechServerThread, session: boto3.Session) -> None:
    recognizer = TranscribeRecognizer(session, endpoint=speech_server.stream_url)

    assert recognizer.transcribe(SECOND_OF_SILENCE) == ""


def test_audio_over_thirty_seconds_is_refused_with_the_error_a_player_can_act_on(
    speech_server: SpeechServerThread, session: boto3.Session
) -> None:
    recognizer = TranscribeRecognizer(session, endpoint=speech_server.stream_url)

    with pytest.raises(ModelUnavailable) as failure:
        recognizer.transcribe(b"\x00" * (MAX_STREAM_AUDIO_BYTES + BYTES_PER_SECOND))

    assert failure.value.message == PLAYER_MESSAGE
    assert failure.value.details == {"reason": "BadRequestException"}


def test_other_stream_settings_are_refused(speech_server: SpeechServerThread, session: boto3.Session) -> None:
    # Given a client asking for 8 kHz audio, which the local Transcribe does not take
    recognizer = TranscribeRecognizer(session, endpoint=speech_server.stream_url)
    url = recognizer.presigned_url().replace("sample-rate=16000", "sample-rate=8000")
    eight_khz = TranscribeRecognizer(session, connect=lambda _signed, timeout: open_websocket(url, timeout))

    with pytest.raises(ModelUnavailable) as failure:
        eight_khz.transcribe(SECOND_OF_SILENCE)

    assert failure.value.details == {"reason": "BadRequestException"}


def test_the_local_runtime_points_the_recognizer_at_its_own_server(
    runtime: LocalRuntime, spoken: bytes
) -> None:
    # (the runtime exports AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING and credentials, as Lambda has its own)
    text = TranscribeRecognizer().transcribe(spoken)

    assert "weather" in text.split(), text


def refusal_of(stream_url: str, frames: Sequence[str | bytes]) -> dict[str, str]:
    """What the local Transcribe answers `frames` with: the headers and body of its one message."""
    with websockets.sync.client.connect(f"{stream_url}/stream-transcription-websocket?{SETTINGS}") as socket:
        for frame in frames:
            socket.send(frame)
        answer = socket.recv(timeout=10)
    assert isinstance(answer, bytes)
    message = decode_message(answer)
    return {**message.headers, **json.loads(message.payload)}


def test_frames_that_are_not_audio_events_are_refused(speech_server: SpeechServerThread) -> None:
    not_audio = encode_message({":message-type": "event", ":event-type": "ConfigurationEvent"}, b"{}")

    for frames in (["a text frame"], [b"short"], [not_audio]):
        refusal = refusal_of(speech_server.stream_url, frames)

        assert refusal[":message-type"] == "exception"
        assert refusal[":exception-type"] == "BadRequestException"
        assert refusal["Message"]


def test_a_client_that_hangs_up_mid_stream_leaves_the_server_serving(
    speech_server: SpeechServerThread, session: boto3.Session
) -> None:
    # Given a stream abandoned after its first AudioEvent
    with websockets.sync.client.connect(
        f"{speech_server.stream_url}/stream-transcription-websocket?{SETTINGS}"
    ) as s:
        s.send(audio_event(SECOND_OF_SILENCE[:6400]))

    # Then the next stream is heard as ever
    assert (
        TranscribeRecognizer(session, endpoint=speech_server.stream_url).transcribe(SECOND_OF_SILENCE) == ""
    )
