"""Voice out, live: `npc.say` with `voice: true` on the local runtime gets the reply's sentences as
`npc.audio` frames (Polly's API, served by Piper), after its tokens, and the same text as without."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import numpy as np
import pytest
import websockets
from botocore.exceptions import ClientError

from aicore.local.runtime import LocalRuntime, local_token
from aicore.local.speech_server import SpeechServerThread
from aicore.voice.audio import CODEC, SAMPLE_RATE
from tests.clients import PUSHES

pytestmark = [pytest.mark.model, pytest.mark.timeout(1800)]
TURN_S = 600


def ws_url(runtime: LocalRuntime, player: str | None = None) -> str:
    token = local_token(player or f"player-{time.time_ns()}", "demo")
    return f"ws://127.0.0.1:{runtime.options.port}/ws?token={token}"


async def voiced_turn(url: str, text: str, npc_id: str = "mira") -> list[dict[str, Any]]:
    """Every frame answering one `npc.say` with voice, until both `npc.reply` and the final
    `npc.audio` are in (either may come first: the last sentence is spoken while the reply is sent)."""
    frames: list[dict[str, Any]] = []

    def ended() -> bool:
        replied = any(f["type"] == "npc.reply" for f in frames)
        return replied and any(f["type"] == "npc.audio" and f["data"]["final"] for f in frames)

    async with websockets.connect(url, max_size=None) as ws:
        said = {"action": "npc.say", "request_id": "v1", "npc_id": npc_id, "text": text, "voice": True}
        await ws.send(json.dumps(said))
        while not ended():
            frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=TURN_S))
            if frame["type"] == "error":
                raise AssertionError(f"the turn failed: {frame}")
            if frame["type"] not in PUSHES:
                frames.append(frame)
    return frames


def test_a_voiced_turn_speaks_its_reply_after_its_tokens(runtime: LocalRuntime) -> None:
    frames = asyncio.run(voiced_turn(ws_url(runtime), "Good evening! Is there a room free tonight?"))

    kinds = [f["type"] for f in frames]
    tokens = [f for f in frames if f["type"] == "npc.token"]
    [reply] = [f for f in frames if f["type"] == "npc.reply"]
    audio = [f for f in frames if f["type"] == "npc.audio"]
    # Then the text is what streamed, as in any turn
    assert reply["ok"], reply
    assert reply["data"]["text"] == "".join(t["data"]["text"] for t in tokens)
    # And audio came after the first token, in order, in the stated format
    assert kinds.index("npc.token") < kinds.index("npc.audio")
    assert [a["data"]["seq"] for a in audio] == list(range(len(audio)))
    assert {(a["data"]["codec"], a["data"]["sample_rate"]) for a in audio} == {(CODEC, SAMPLE_RATE)}
    # And it is speech-like PCM: whole samples, long enough for the words, not silence
    pcm = b"".join(base64.b64decode(a["data"]["audio"]) for a in audio)
    assert len(audio) >= 2
    assert len(pcm) % 2 == 0
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    assert len(samples) / SAMPLE_RATE >= 0.3
    assert np.sqrt(np.mean(samples**2)) > 300  # Piper speaks at ~-20 dBFS; silence is ~0


@pytest.fixture(scope="module")
def polly(fake_aws_credentials_module: None) -> Iterator[Any]:
    """boto3's Polly client on the local Polly-compatible server (Piper)."""
    with SpeechServerThread() as url:
        yield boto3.client("polly", endpoint_url=url, region_name="us-east-1")


@pytest.fixture(scope="module")
def fake_aws_credentials_module() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_PROFILE", raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        yield


def test_the_local_polly_answers_synthesize_speech_as_polly_does(polly: Any) -> None:
    # When the same sentence is asked for at both of Polly's pcm sample rates
    said = "Welcome to the Gilded Goose."
    answers = {
        rate: polly.synthesize_speech(
            Text=said, VoiceId="Joanna", Engine="neural", OutputFormat="pcm", SampleRate=rate
        )
        for rate in ("16000", "8000")
    }
    # Then each is audio/pcm, whole samples, with the characters counted, 8 kHz about half the bytes
    audio = {rate: answer["AudioStream"].read() for rate, answer in answers.items()}
    assert {a["ContentType"] for a in answers.values()} == {"audio/pcm"}
    assert {a["RequestCharacters"] for a in answers.values()} == {len(said)}
    assert len(audio["16000"]) % 2 == 0
    assert len(audio["16000"]) / SAMPLE_RATE / 2 >= 0.5
    # (Piper varies its phoneme lengths a little from call to call: within 10 %)
    assert 0.9 <= len(audio["8000"]) * 2 / len(audio["16000"]) <= 1.1


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"OutputFormat": "mp3"}, "ValidationException"),
        ({"SampleRate": "22050"}, "InvalidSampleRateException"),
        ({"TextType": "ssml", "Text": "<speak>Hi</speak>"}, "ValidationException"),
    ],
)
def test_what_the_local_polly_cannot_do_is_polly_error(
    polly: Any, changes: dict[str, str], code: str
) -> None:
    request = {"Text": "Hi.", "VoiceId": "Joanna", "OutputFormat": "pcm", "SampleRate": "16000"} | changes
    with pytest.raises(ClientError) as refused:
        polly.synthesize_speech(**request)
    assert refused.value.response["Error"]["Code"] == code
