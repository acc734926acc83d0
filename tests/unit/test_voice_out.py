"""Voice out (aicore.voice): sentences as the text streams, synthesized beside it, pushed as npc.audio."""

from __future__ import annotations

import base64
import threading
from typing import Any

import pytest

from aicore.npc.turn import TurnDeps
from aicore.voice.audio import AUDIO_CHUNK_BYTES, CODEC, SAMPLE_RATE, NpcVoice, chunks_of
from aicore.voice.sentences import SentenceSplitter
from aicore.voice.speech import VoiceStream
from tests.fakes import FakePusher, FakeWorld, ScriptedEndpoint
from tests.npc_turns import CONNECTION, MIRA, say, turn_deps
from tests.voice_fakes import FakeSynthesizer, pcm_of
from tests.waiting import eventually

JOE = NpcVoice(voice_id="Joey")


def _audio(frames: list[dict[str, Any]]) -> bytes:
    return b"".join(base64.b64decode(f["data"]["audio"]) for f in frames)


def test_sentences_come_out_as_they_complete() -> None:
    splitter = SentenceSplitter()
    assert splitter.add("Well met, trav") == []
    assert splitter.add("eller. Rooms are ") == ["Well met, traveller."]
    assert splitter.add("two silver! Stay? ") == ["Rooms are two silver!"]
    assert splitter.add("Aye") == []
    assert splitter.rest() == "Stay? Aye"  # too short alone: spoken with what follows
    assert splitter.rest() is None


def test_a_sentence_that_never_ends_is_cut_at_a_comma() -> None:
    splitter = SentenceSplitter(max_chars=40)
    [first] = splitter.add("the road north, the road south, the road west, and on")
    assert first == "the road north, the road south,"
    assert splitter.rest() == "the road west, and on"


def test_nothing_speakable_is_not_spoken() -> None:
    splitter = SentenceSplitter()
    assert splitter.add("... ") == []
    assert splitter.rest() is None


def test_chunks_stay_on_sample_boundaries() -> None:
    pcm = bytes(range(256)) * 10
    chunks = chunks_of(pcm, 1001)
    assert all(len(c) % 2 == 0 for c in chunks)
    assert b"".join(chunks) == pcm


def test_a_voice_stream_pushes_each_sentence_in_frames_then_a_final_one() -> None:
    # Given a stream fed a reply in pieces
    synthesizer, pusher = FakeSynthesizer(), FakePusher()
    voice = VoiceStream(synthesizer, JOE, pusher, CONNECTION, "r-1")
    for piece in ("Well met, ", "traveller. The rooms ", "are upstairs, by the fire"):
        voice.add(piece)
    # When the reply ends
    voice.close()
    assert voice.wait(timeout_s=30)
    # Then each sentence was synthesized with the NPC's voice, in order
    assert synthesizer.spoken == [("Well met, traveller.", JOE), ("The rooms are upstairs, by the fire", JOE)]
    frames = pusher.of_type("npc.audio")
    assert [f["data"]["seq"] for f in frames] == list(range(len(frames)))
    assert all(f["request_id"] == "r-1" for f in frames)
    assert {(f["data"]["codec"], f["data"]["sample_rate"]) for f in frames} == {(CODEC, SAMPLE_RATE)}
    # And no frame holds more than half a second; the audio is all there; the last frame says so
    assert all(len(base64.b64decode(f["data"]["audio"])) <= AUDIO_CHUNK_BYTES for f in frames)
    assert _audio(frames) == pcm_of("Well met, traveller.") + pcm_of("The rooms are upstairs, by the fire")
    assert [f["data"]["final"] for f in frames] == [False] * (len(frames) - 1) + [True]
    assert frames[-1]["data"]["audio"] == ""


def test_an_interrupted_reply_drops_what_was_not_spoken() -> None:
    # Given a synthesizer held back while two sentences queue
    gate = threading.Event()
    synthesizer, pusher = FakeSynthesizer(gate=gate), FakePusher()
    voice = VoiceStream(synthesizer, JOE, pusher, CONNECTION, "r-1")
    voice.add("First sentence, long enough. Second sentence, long enough. ")
    # When the player interrupts, then synthesis goes on
    voice.close(interrupted=True)
    gate.set()
    assert voice.wait(timeout_s=30)
    # Then at most the sentence in synthesis was heard, and the stream still ends with a final frame
    assert len(synthesizer.spoken) <= 1
    assert pusher.of_type("npc.audio")[-1]["data"]["final"] is True


def test_a_failing_synthesizer_leaves_the_text_alone() -> None:
    pusher = FakePusher()
    voice = VoiceStream(FakeSynthesizer(failing=True), JOE, pusher, CONNECTION, "r-1")
    voice.add("This will not be heard today. Nor this one, friend. ")
    voice.close()
    assert voice.wait(timeout_s=30)
    assert [f["data"]["final"] for f in pusher.of_type("npc.audio")] == [True]


def test_a_gone_client_stops_the_voice() -> None:
    pusher = FakePusher(gone={CONNECTION})
    synthesizer = FakeSynthesizer()
    voice = VoiceStream(synthesizer, JOE, pusher, CONNECTION, "r-1")
    voice.add("Anyone there at all? Hello, hello, hello? ")
    voice.close()
    assert voice.wait(timeout_s=30)
    assert len(synthesizer.spoken) <= 1


@pytest.fixture
def voiced() -> tuple[TurnDeps, FakeSynthesizer]:
    world = FakeWorld()
    deps = turn_deps(
        world, ScriptedEndpoint(tokens=("Well ", "met, ", "traveller. ", "Rooms are ", "two silver."))
    )
    world.put_npc(MIRA.model_copy(update={"voice": JOE}))  # turn_deps puts Mira with the default voice
    deps.synthesizer = FakeSynthesizer()
    return deps, deps.synthesizer


def test_a_voiced_turn_speaks_the_reply_in_the_npcs_voice(voiced: tuple[TurnDeps, FakeSynthesizer]) -> None:
    deps, synthesizer = voiced
    # When the player asks for voice
    pusher = say(deps, voice=True)
    # Then the text is as without voice, and every sentence of it was spoken by Mira's voice
    [reply] = pusher.of_type("npc.reply")
    assert reply["data"]["text"] == "Well met, traveller. Rooms are two silver."
    assert synthesizer.spoken == [("Well met, traveller.", JOE), ("Rooms are two silver.", JOE)]
    # And the audio frames are all pushed by the time the function returns, the final one last
    frames = pusher.of_type("npc.audio")
    assert _audio(frames) == pcm_of("Well met, traveller.") + pcm_of("Rooms are two silver.")
    assert frames[-1]["data"]["final"] is True
    # And the first audio follows the first token
    kinds = [frame["type"] for _, frame in pusher.frames]
    assert kinds.index("npc.token") < kinds.index("npc.audio")


def test_without_voice_a_turn_is_text_only(voiced: tuple[TurnDeps, FakeSynthesizer]) -> None:
    deps, synthesizer = voiced
    pusher = say(deps)
    assert pusher.of_type("npc.audio") == []
    assert synthesizer.spoken == []
    assert pusher.of_type("npc.reply")[0]["data"]["text"] == "Well met, traveller. Rooms are two silver."


def test_tokens_do_not_wait_for_the_voice(voiced: tuple[TurnDeps, FakeSynthesizer]) -> None:
    # Given a synthesizer that cannot finish until the test says so
    deps, synthesizer = voiced
    synthesizer.gate = gate = threading.Event()
    pusher = FakePusher()
    deps.pusher = pusher
    # When the turn runs (its function waits for the voice only after the reply frame)
    runner = threading.Thread(target=say, args=(deps,), kwargs={"voice": True}, daemon=True)
    runner.start()
    # Then every token and the reply arrive while no audio has been made
    eventually(lambda: pusher.of_type("npc.reply"), timeout_s=60, what="the reply before any audio")
    assert synthesizer.spoken == []
    assert "".join(f["data"]["text"] for f in pusher.of_type("npc.token")).endswith("two silver.")
    gate.set()
    runner.join(timeout=60)
    assert pusher.of_type("npc.audio")[-1]["data"]["final"] is True


class _SlowFirstToken(FakePusher):
    """Holds the first token frame until the first sentence has been synthesized: the pusher of
    tokens lagging behind synthesis, as under load."""

    def __init__(self, synthesizer: FakeSynthesizer) -> None:
        super().__init__()
        self._synthesizer = synthesizer

    def send(self, connection_id: str, frame: dict[str, Any]) -> bool:
        if frame["type"] == "npc.token" and not self.of_type("npc.token"):
            eventually(lambda: self._synthesizer.spoken, timeout_s=60, what="the first sentence spoken")
        return super().send(connection_id, frame)


def test_audio_waits_for_the_first_token_frame_even_when_synthesis_is_faster(
    voiced: tuple[TurnDeps, FakeSynthesizer],
) -> None:
    deps, synthesizer = voiced
    deps.pusher = pusher = _SlowFirstToken(synthesizer)
    say(deps, voice=True)
    kinds = [frame["type"] for _, frame in pusher.frames]
    assert kinds.index("npc.token") < kinds.index("npc.audio")
