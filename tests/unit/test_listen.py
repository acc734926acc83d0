"""`npc.listen` through the real npc-say handler over fakes: chunks are acknowledged, the end of speech
(or `final`) writes the utterance down and takes one turn with it, a repeat gets the first answer."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.npc.listen import ListenDeps
from aicore.npc.turn import TurnDeps
from aicore.platform.settings import GLOBAL_SCOPE, GlobalSettings, StoredSettings, TurnBudget, TurnLimits
from aicore.topology import TOPOLOGY
from aicore.voice.audio import SAMPLE_RATE
from tests.fakes import FakePusher, ScriptedEndpoint
from tests.npc_turns import connected, turn_deps
from tests.platform_fakes import FakeSettingsStore
from tests.protocol_fakes import FakeRequestLedger

HALF_SECOND = int(SAMPLE_RATE * 0.5)


def speech() -> bytes:
    t = np.arange(HALF_SECOND) / SAMPLE_RATE
    return (np.sin(2 * np.pi * 220.0 * t) * 0.3 * 32767).astype("<i2").tobytes()


SPEECH, SILENCE = speech(), bytes(HALF_SECOND * 2)


@dataclass
class FakeUtterances:
    chunks: dict[tuple[str, str], dict[int, bytes]] = field(default_factory=dict)
    ended: dict[tuple[str, str], str] = field(default_factory=dict)
    reads: int = 0

    def add_chunk(self, owner: str, request_id: str, seq: int, pcm: bytes, expires_at: int) -> None:
        self.chunks.setdefault((owner, request_id), {}).setdefault(seq, pcm)

    def utterance(self, owner: str, request_id: str) -> tuple[dict[int, bytes], str | None]:
        self.reads += 1
        return dict(self.chunks.get((owner, request_id), {})), self.ended.get((owner, request_id))

    def end(self, owner: str, request_id: str, transcript: str, expires_at: int) -> str | None:
        if (owner, request_id) in self.ended:
            return self.ended[(owner, request_id)]
        self.ended[(owner, request_id)] = transcript
        return None


@dataclass
class FakeRecognizer:
    text: str = "any rooms tonight"
    heard: list[int] = field(default_factory=list)  # the length of each utterance it was given

    def transcribe(self, pcm: bytes) -> str:
        self.heard.append(len(pcm))
        return self.text


@dataclass
class Listening:
    deps: TurnDeps
    endpoint: ScriptedEndpoint
    utterances: FakeUtterances = field(default_factory=FakeUtterances)
    recognizer: FakeRecognizer = field(default_factory=FakeRecognizer)

    def send(self, seq: int, pcm: bytes, **fields: Any) -> list[dict[str, Any]]:
        """One chunk of request r-1 to Mira; the frames it was answered with."""
        frame = {"action": "npc.listen", "request_id": "r-1", "npc_id": "mira", "seq": seq}
        frame |= {"audio": base64.b64encode(pcm).decode(), **fields}
        return self.send_raw(json.dumps(frame))

    def send_raw(self, body: str) -> list[dict[str, Any]]:
        pusher = self.deps.pusher
        assert isinstance(pusher, FakePusher)
        before = len(pusher.frames)
        handler = Lambdas().module(TOPOLOGY.function("npc-say")).handler
        listen = ListenDeps(self.utterances, self.recognizer)
        event = connected(body, route_key="npc.listen")
        result = handler(event, LambdaContext("npc-say", 1024, 60), deps=self.deps, listen_deps=listen)
        assert result == {"statusCode": 200}
        return [f for _, f in pusher.frames[before:] if f["type"] != "npc.token"]


def listening(settings: FakeSettingsStore | None = None) -> Listening:
    endpoint = ScriptedEndpoint()
    deps = turn_deps(endpoint=endpoint, settings=settings)
    deps.requests = FakeRequestLedger()
    return Listening(deps, endpoint)


def types(frames: list[dict[str, Any]]) -> list[str]:
    return [f["type"] for f in frames]


def test_chunks_of_speech_are_acknowledged_without_a_read_or_a_model_call() -> None:
    heard = listening()

    answers = [heard.send(seq, SPEECH) for seq in range(3)]

    assert [types(a) for a in answers] == [["npc.listening"]] * 3
    assert [a[0]["data"] for a in answers] == [{"seq": s, "speech": True, "ended": False} for s in range(3)]
    assert all(a[0]["request_id"] == "r-1" for a in answers)
    assert (heard.utterances.reads, heard.recognizer.heard, heard.endpoint.calls) == (0, [], [])


def test_silence_after_speech_ends_the_utterance_and_its_transcript_is_the_players_line() -> None:
    # Given a second of speech, then quiet
    heard = listening()
    heard.send(0, SPEECH)
    heard.send(1, SPEECH)

    # When 0.5 s of quiet comes (not yet enough), then another 0.5 s
    first_quiet = heard.send(2, SILENCE[: len(SPEECH)])
    ended = heard.send(3, SILENCE[: len(SPEECH)])

    # Then the second ends it: the transcript, then the turn's reply, the model asked once
    assert first_quiet[0]["data"] == {"seq": 2, "speech": False, "ended": False}
    assert types(ended) == ["npc.transcript", "npc.reply"]
    assert ended[0]["data"] == {"text": "any rooms tonight", "ended_by": "silence", "audio_ms": 2000}
    assert ended[1]["data"]["npc_id"] == "mira"
    assert heard.recognizer.heard == [4 * len(SPEECH)]
    assert len(heard.endpoint.calls) == 1
    said = [m.content for m in heard.endpoint.last_messages if m.role == "user"]
    assert "any rooms tonight" in said[-1]


def test_the_final_chunk_ends_the_utterance_and_a_repeat_gets_the_first_reply() -> None:
    heard = listening()
    heard.send(0, SPEECH)

    first = heard.send(1, SPEECH, final=True)
    again = heard.send(1, SPEECH, final=True)

    assert types(first) == types(again) == ["npc.transcript", "npc.reply"]
    assert first[0]["data"]["ended_by"] == "final"
    assert again[1]["data"]["seq"] == first[1]["data"]["seq"]
    assert again[1]["data"]["text"] == first[1]["data"]["text"]
    assert (len(heard.recognizer.heard), len(heard.endpoint.calls)) == (1, 1)


def test_a_chunk_after_the_end_is_told_so_and_starts_nothing() -> None:
    heard = listening()
    heard.send(0, SPEECH, final=True)

    late = heard.send(1, SILENCE[: len(SPEECH)])

    assert late[0]["type"] == "npc.listening"
    assert late[0]["data"] == {"seq": 1, "speech": False, "ended": True}
    assert (len(heard.recognizer.heard), len(heard.endpoint.calls)) == (1, 1)


def test_a_final_chunk_with_chunks_missing_names_them() -> None:
    heard = listening()
    heard.send(0, SPEECH)

    [error] = heard.send(3, SPEECH, final=True)

    assert error["type"] == "error"
    assert error["error"]["code"] == "invalid_request"
    assert error["error"]["details"] == {"missing_seq": [1, 2]}
    assert heard.recognizer.heard == []


def test_only_silence_is_not_sent_to_the_recognizer_and_says_no_words_were_heard() -> None:
    heard = listening()

    [error] = heard.send(0, SILENCE[: len(SPEECH)], final=True)

    assert error["type"] == "error"
    assert error["error"]["code"] == "invalid_request"
    assert "No words were heard" in error["error"]["message"]
    assert (heard.recognizer.heard, heard.endpoint.calls) == ([], [])


def test_bad_audio_gets_a_clear_error_that_never_echoes_it() -> None:
    heard = listening()
    cases = {
        "not base64": "%%%not-base64%%%",
        "over half a second": base64.b64encode(bytes(16_002)).decode(),
        "half a sample": base64.b64encode(bytes(3)).decode(),
    }
    for name, audio in cases.items():
        body = {"action": "npc.listen", "request_id": "r-1", "npc_id": "mira", "seq": 0, "audio": audio}
        [error] = heard.send_raw(json.dumps(body))
        assert error["type"] == "error", name
        assert error["error"]["code"] in {"invalid_request", "payload_too_large"}, name
        assert audio[:40] not in json.dumps(error), name
    assert heard.utterances.chunks == {}


def test_a_player_known_to_be_over_budget_is_refused_before_anything_is_transcribed() -> None:
    # Given a budget of one turn a minute, spent by a first utterance
    stingy = TurnBudget(per_minute=1, burst=1)
    settings = FakeSettingsStore()
    values = GlobalSettings(
        limits=TurnLimits(player=stingy, connection=TurnBudget(per_minute=600, burst=100))
    )
    settings.documents[GLOBAL_SCOPE] = StoredSettings(
        scope=GLOBAL_SCOPE, version=1, values=values.model_dump()
    )
    heard = listening(settings)
    assert types(heard.send(0, SPEECH, final=True)) == ["npc.transcript", "npc.reply"]

    # When a second utterance ends at once
    body = {"action": "npc.listen", "request_id": "r-2", "npc_id": "mira", "seq": 0, "final": True}
    [refused] = heard.send_raw(json.dumps(body | {"audio": base64.b64encode(SPEECH).decode()}))

    # Then it is refused with the time to wait, and the recognizer never heard it
    assert refused["error"]["code"] == "rate_limited"
    assert refused["error"]["details"]["retry_after_ms"] > 0
    assert len(heard.recognizer.heard) == 1
