"""NPC voices: Amazon Polly's SynthesizeSpeech, PCM at 16 kHz (aicore.voice.audio).

The same code runs in the cloud and on a laptop: locally, boto3 reads the address of the
Polly-compatible server of `aicore local` (Piper behind it) from `AWS_ENDPOINT_URL_POLLY`.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from aicore.voice.audio import SAMPLE_RATE, NpcVoice

if TYPE_CHECKING:
    from mypy_boto3_polly import PollyClient

# A sentence is synthesized in well under a second; a stuck call must not hold the turn's voice.
CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"})


class PollySynthesizer:
    def __init__(self, client: PollyClient | None = None) -> None:
        self._given = client

    @cached_property
    def _client(self) -> PollyClient:
        # Made at the first voiced reply, not at every npc-say cold start (most turns are text only)
        return self._given or boto3.client("polly", config=CONFIG)

    def synthesize(self, text: str, voice: NpcVoice) -> bytes:
        response = self._client.synthesize_speech(
            Text=text,
            VoiceId=voice.voice_id,  # type: ignore[arg-type]  # checked by NpcVoice's pattern
            Engine=voice.engine,  # type: ignore[arg-type]
            OutputFormat="pcm",
            SampleRate=str(SAMPLE_RATE),
            TextType="text",
        )
        with response["AudioStream"] as audio:
            return bytes(audio.read())
