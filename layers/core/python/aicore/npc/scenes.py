"""Ambient scenes: NPCs of a session talk among themselves for a bounded number of lines
(`session.scene`), each line stored in the session like any other and pushed, once stored, to every
live connection of every player participant as a `session.message` (the asking connection too).

At most once per `request_id` (the ledger `npc.say` claims its ids in): a repeat gets the first
scene's answer and nothing is said or pushed again. The scene spends one turn of the player's budget.
The NPCs take turns in the order given; each line is one model call with the scene so far in the
prompt (every speaker named), the NPC's scripted line if no tier answers.
"""

from __future__ import annotations

import hashlib
from functools import partial

from pydantic import BaseModel

from aicore.auth import Caller
from aicore.errors import Conflict, InvalidRequest, NotFound, RequestInProgress
from aicore.frames import SessionScene
from aicore.llm.router import ModelRequest
from aicore.npc.claims import RequestRecord, owner_of
from aicore.npc.prompt import build_prompt
from aicore.npc.requests import IN_FLIGHT_S, REQUEST_WINDOW_S
from aicore.npc.turn import CONTEXT_MESSAGES, TurnDeps, npc_voice, speaker_names
from aicore.observability import in_parallel, traced
from aicore.performance import DEFAULT_MODE, NPC_SAY_PROFILES
from aicore.sessions.group import Audience
from aicore.sessions.models import NewMessage, Participant, ParticipantKind
from aicore.world.models import Npc

SCENE_PROFILE = NPC_SAY_PROFILES[DEFAULT_MODE]  # a scene's line is an NPC's short line


class SceneLine(BaseModel):
    seq: int
    npc_id: str
    text: str
    tier: str
    fallback: bool


class SceneResult(BaseModel):
    """`session.scene`'s answer: the lines said, in order (each also came as a `session.message`)."""

    session_id: str
    topic: str | None
    lines: list[SceneLine]
    pushed: int  # session.message frames delivered, all lines together


def play_scene_once(frame: SessionScene, caller: Caller, connection_id: str, deps: TurnDeps) -> SceneResult:
    """The scene, played once for the player's `request_id` within the window (no ledger: always)."""
    ledger = deps.requests
    if ledger is None:
        return play_scene(frame, caller, connection_id, deps)
    owner, print_ = owner_of(caller), _fingerprint(frame)
    now_s = int(deps.clock().timestamp())
    claim = RequestRecord(state="in_progress", fingerprint=print_, in_flight_until=now_s + IN_FLIGHT_S)
    held = ledger.claim(owner, frame.request_id, claim, now_s, now_s + REQUEST_WINDOW_S)
    if held is not None:
        return _repeat(frame, held, print_)
    try:
        result = play_scene(frame, caller, connection_id, deps)
    except BaseException:
        ledger.release(owner, frame.request_id)
        raise
    done = claim.model_copy(update={"state": "completed", "reply": result.model_dump_json()})
    ledger.complete(owner, frame.request_id, done, now_s + REQUEST_WINDOW_S)
    return result


def _fingerprint(frame: SessionScene) -> str:
    return hashlib.sha256(frame.model_dump_json(exclude={"request_id"}).encode()).hexdigest()


def _repeat(frame: SessionScene, held: RequestRecord, print_: str) -> SceneResult:
    details = {"request_id": frame.request_id}
    if held.fingerprint != print_:
        raise Conflict("This request_id was already used for another frame: send a new request_id.", details)
    if held.state == "in_progress" or held.reply is None:
        raise RequestInProgress("This scene is still being played: its lines come as they are said.", details)
    return SceneResult.model_validate_json(held.reply)


def play_scene(frame: SessionScene, caller: Caller, connection_id: str, deps: TurnDeps) -> SceneResult:
    settings = deps.settings.for_world(caller.world_id)
    with traced("scene.read"):
        _, conversation, world_npcs = in_parallel(
            lambda: deps.limiter.take(caller, connection_id, settings.limits),
            lambda: deps.sessions.session_conversation(caller, frame.session_id, CONTEXT_MESSAGES),
            lambda: deps.world.list_npcs(caller.world_id),
        )
    head, history = conversation.head, list(conversation.messages)
    cast = _cast(frame, head.participants, world_npcs)
    names = speaker_names(head, [n for n in world_npcs if head.includes(n.npc_id)])
    audience = deps.fan_out.audience(head, caller.world_id) if deps.fan_out else Audience(head.session_id, ())
    lines: list[SceneLine] = []
    pushed = 0
    for turn in range(frame.lines):
        npc, listener = cast[turn % len(cast)], cast[(turn + 1) % len(cast)]
        with traced("scene.line", npc=npc.npc_id):
            completion = deps.router.stream(
                ModelRequest(
                    build_prompt(npc, [], None, history, _cue(frame, listener), speakers=names),
                    first_token_budget_ms=SCENE_PROFILE.first_token_budget_ms,
                    max_tokens=SCENE_PROFILE.max_tokens,
                ),
                on_token=lambda _token: True,
                scripted_line=partial(_scripted, npc),
            )
        text = completion.text.strip() or _scripted(npc)
        speaker = Participant(id=npc.npc_id, kind=ParticipantKind.NPC)
        head, stored = deps.sessions.speak(
            npc_voice(caller, npc), head, [NewMessage(speaker=speaker, text=text)]
        )
        history.extend(stored)
        if deps.fan_out is not None:
            pushed += deps.fan_out.push(audience, stored, names)
        lines.append(
            SceneLine(
                seq=stored[0].seq,
                npc_id=npc.npc_id,
                text=text,
                tier=completion.tier,
                fallback=completion.fallback,
            )
        )
    return SceneResult(session_id=head.session_id, topic=frame.topic, lines=lines, pushed=pushed)


def _cast(frame: SessionScene, participants: list[Participant], world_npcs: list[Npc]) -> list[Npc]:
    """The scene's NPCs in the order they speak: each in the session and in the world, once."""
    in_session = {p.id for p in participants if p.kind is ParticipantKind.NPC}
    by_id = {npc.npc_id: npc for npc in world_npcs}
    missing = [npc_id for npc_id in frame.npc_ids if npc_id not in in_session or npc_id not in by_id]
    if missing:
        raise NotFound(
            f"NPC '{missing[0]}' is not in session '{frame.session_id}': add it (session.join, kind npc).",
            {"session_id": frame.session_id, "npc_id": missing[0]},
        )
    if len(set(frame.npc_ids)) != len(frame.npc_ids):
        raise InvalidRequest("Name each NPC of a scene once.", {"npc_ids": "not unique"})
    return [by_id[npc_id] for npc_id in frame.npc_ids]


def _cue(frame: SessionScene, listener: Npc) -> str:
    about = f" about {frame.topic}" if frame.topic else ""
    return f"(The scene goes on{about}. Say your next line to {listener.name}, in one short sentence.)"


def _scripted(npc: Npc) -> str:
    return (npc.fallback_lines or [npc.greeting])[0]
