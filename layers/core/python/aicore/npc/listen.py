"""`npc.listen`: the player speaks to an NPC; the utterance, once it ends, is an ordinary turn.

Each chunk is its own frame (one invocation in the cloud), so the chunks are kept in the utterance
store (`aicore.aws.utterances`: one conditional write each, expiring) until the utterance ends:
when the client says so (`final`), or when a chunk without speech lets the detector hear enough
silence after speech (`aicore.voice.listening.speech_ended`; loud chunks never read the store).
The chunk that ends it writes the transcript down and marks the utterance ended with it (one
conditional write: a chunk that races it, or comes later, is told `ended` and starts nothing),
pushes `npc.transcript`, and takes the turn as `npc.say` with the same request id: the final chunk
sent again gets the first answer, never a second turn (`aicore.npc.requests`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel

from aicore.auth import Caller
from aicore.errors import InvalidRequest
from aicore.frames import NpcListen
from aicore.npc.claims import owner_of
from aicore.npc.requests import take_turn_once
from aicore.npc.turn import TurnDeps, TurnOutcome
from aicore.voice.audio import BYTES_PER_SECOND
from aicore.voice.listening import Recognizer, assemble, heard_speech, speech_ended, transcript_of

LISTENING_FRAME = "npc.listening"
TRANSCRIPT_FRAME = "npc.transcript"
UTTERANCE_TTL_S = 5 * 60  # chunks of an utterance nobody finished are gone after this


class UtteranceStore(Protocol):
    def add_chunk(self, owner: str, request_id: str, seq: int, pcm: bytes, expires_at: int) -> None:
        """Keep a chunk; a chunk sent again (same seq) keeps the first."""
        ...

    def utterance(self, owner: str, request_id: str) -> tuple[dict[int, bytes], str | None]:
        """The utterance's chunks by seq (read consistently), and its transcript once it has ended."""
        ...

    def end(self, owner: str, request_id: str, transcript: str, expires_at: int) -> str | None:
        """Mark the utterance ended with its transcript: None if this call did, else the transcript
        it ended with before (another chunk's)."""
        ...


@dataclass
class ListenDeps:
    utterances: UtteranceStore
    recognizer: Recognizer


class Listening(BaseModel):
    """The data of `npc.listening`: one chunk taken."""

    seq: int
    speech: bool  # this chunk holds speech
    ended: bool = False  # the utterance had ended already: its turn is under way, stop sending


class Transcript(BaseModel):
    """The data of `npc.transcript`: what the player said, written down; the turn follows."""

    text: str
    ended_by: Literal["final", "silence"]
    audio_ms: int


@dataclass
class Heard:
    """What a chunk led to: an acknowledgement, or the ended utterance's transcript and turn."""

    listening: Listening | None = None
    transcript: Transcript | None = None
    turn: TurnOutcome | None = None


def listen(
    frame: NpcListen,
    caller: Caller,
    connection_id: str,
    correlation_id: str,
    turn: TurnDeps,
    deps: ListenDeps,
    now_s: int,
) -> Heard:
    """Take one chunk; if it ends the utterance, transcribe it and take the turn. The final chunk
    sent again gets the turn's first answer (or, if the turn failed, the turn again)."""
    owner, expires_at = owner_of(caller), now_s + UTTERANCE_TTL_S
    speech = heard_speech(frame.audio)
    deps.utterances.add_chunk(owner, frame.request_id, frame.seq, frame.audio, expires_at)
    if speech and not frame.final:  # still talking: no read
        return Heard(listening=Listening(seq=frame.seq, speech=True))
    chunks, said_before = deps.utterances.utterance(owner, frame.request_id)
    if said_before is None and not frame.final and not _silence_after_speech(chunks):
        return Heard(listening=Listening(seq=frame.seq, speech=speech))
    if said_before is None:
        pcm = assemble(chunks)  # a final chunk with some missing is refused: the client sends them
        limits = turn.settings.for_world(caller.world_id).limits  # a flood is not transcribed
        turn.limiter.refuse_if_known_spent(caller, connection_id, limits)
        said = Transcript(
            text=transcript_of(pcm, deps.recognizer), ended_by="final" if frame.final else "silence",
            audio_ms=len(pcm) * 1000 // BYTES_PER_SECOND,
        )  # fmt: skip
        said_before = deps.utterances.end(owner, frame.request_id, said.text, expires_at)
    if said_before is not None:  # ended already (by a racing chunk, or before this repeat)
        if not frame.final:
            return Heard(listening=Listening(seq=frame.seq, speech=speech, ended=True))
        said = Transcript(text=said_before, ended_by="final", audio_ms=_audio_ms(chunks))
    if not said.text:
        raise InvalidRequest(
            "No words were heard in the audio: speak closer to the microphone, or type the line "
            "(npc.say). Send the next utterance with a new request_id.",
            {"audio_ms": said.audio_ms},
        )
    turn.pusher.send(connection_id, transcript_frame(frame.request_id, said))
    outcome = take_turn_once(frame.said(said.text), caller, connection_id, correlation_id, turn)
    return Heard(transcript=said, turn=outcome)


def _audio_ms(chunks: Mapping[int, bytes]) -> int:
    return sum(len(pcm) for pcm in chunks.values()) * 1000 // BYTES_PER_SECOND


def _silence_after_speech(chunks: Mapping[int, bytes]) -> bool:
    """Speech, then enough quiet, in the chunks received in order so far (a gap: not yet)."""
    in_order = [chunks[seq] for seq in range(len(chunks)) if seq in chunks]
    return len(in_order) == len(chunks) and speech_ended(b"".join(in_order))


def transcript_frame(request_id: str, transcript: Transcript) -> dict[str, object]:
    return {"type": TRANSCRIPT_FRAME, "request_id": request_id, "data": transcript.model_dump(mode="json")}
