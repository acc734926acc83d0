"""One NPC turn: the player's line is stored, the reply streams token by token, then is stored too.

The prompt holds what the NPC recalls for this line (`aicore.npc.recollection`): its memories of
the player and general ones, the lore it may know, how it feels about the player and its mood. All
of it is read beside the turn's other reads and ranked in process while the player's line is
written: no extra round trip before the model, and no model call unless the mode allows one.

It also holds the world around the NPC now (`aicore.world.now`): the time, the weather of its
region and the facts that concern it, from the world's `STATE#` items (one Query, beside the other
reads). A world never pushed, or an NPC in no region, still has its turn (with less to say).

An NPC of a faction with a language sprinkles a phrase or two of it into its reply
(`aicore.language.speech`: chosen here, never left to the model): the opening phrase is streamed
before the model's first token, the closing one after its last, and the stored reply is exactly
what was streamed. `data.phrases` lists them, translated as far as the player's proficiency (read
in the turn's world batch) goes; NPC Turn Completed carries `phrases_heard`, which the consumer
adds to the player's proficiency once per turn.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from pydantic import BaseModel, Field

from aicore.auth import Caller, Role
from aicore.clock import Clock, game_time, now, stamp
from aicore.connections import ClientPusher
from aicore.errors import Forbidden, InvalidRequest, NotFound
from aicore.events import EventPublisher
from aicore.frames import NpcSay
from aicore.language.lexicon import faction_lexicon
from aicore.language.speech import Moment, PhraseView, Sprinkle, sprinkle
from aicore.llm.router import Completion, ModelRequest, Router, TokenSink
from aicore.mind.turn import DebugContext, EmotionView, RelationshipView, debug_context
from aicore.npc.director import ADDRESSED, Choice, choose_responder
from aicore.npc.events import NpcTurnCompleted
from aicore.npc.interrupts import INTERRUPT_CHECK_S, INTERRUPTED, InterruptWatch
from aicore.npc.prompt import WORLD_PROMPT_CHARS, build_prompt
from aicore.npc.recollection import Recollection, TurnMind, recollect
from aicore.npc.token_stream import DEFAULT_INTERVAL_S, TokenStream
from aicore.observability import in_parallel, metric_dimensions, traced
from aicore.performance import DEFAULT_MODE, NPC_SAY_PROFILES
from aicore.platform.limits import TurnLimiter
from aicore.platform.settings import SettingsCache
from aicore.quests.models import QuestOffer
from aicore.quests.offers import prompt_line
from aicore.sessions.group import Audience, GroupFanOut, is_group
from aicore.sessions.models import Message, NewMessage, Participant, ParticipantKind, SessionHead
from aicore.sessions.service import Conversation, SessionService
from aicore.topology import (
    FALLBACK_METRIC,
    FIRST_TOKEN_METRIC,
    NPC_SOURCE,
    NPC_TURN_COMPLETED,
    SERVICE,
    TIER_DIMENSION,
    TOKENS_PER_SECOND_METRIC,
)
from aicore.voice.speech import Synthesizer, VoiceStream
from aicore.world.models import Npc
from aicore.world.now import WorldContext, WorldNow, world_now
from aicore.world.state import StoredState
from aicore.world.store import WorldStore

if TYPE_CHECKING:
    from aicore.npc.claims import RequestLedger

CONTEXT_MESSAGES = 20
_BACKGROUND = ThreadPoolExecutor(max_workers=2, thread_name_prefix="turn-fan-out")
NPC_SAY_MAX_TOKENS = NPC_SAY_PROFILES[DEFAULT_MODE].max_tokens  # performance modes shift it
DEBUG_ROLES = (Role.STUDIO, Role.ADMIN)  # who may see a turn's context (`"debug": true`)


class TurnTimings(BaseModel):
    first_token_ms: float
    model_ms: float
    tokens: int
    tokens_per_s: float
    prompt_tokens: int | None = None


class TurnReply(BaseModel):
    session_id: str
    npc_id: str
    text: str
    tier: str
    fallback: bool
    fallback_reason: str | None = None  # why the tiers before `tier` did not answer
    truncated: bool  # the reply stops short: see `truncated_reason`
    # `length`: the token limit was reached; `interrupted`: the player stopped it; else why the stream broke
    truncated_reason: str | None = None
    mode: str  # the performance mode the turn ran in
    seq: int
    timings: TurnTimings
    emotion: EmotionView  # the NPC's mood as the turn began
    relationship: RelationshipView  # what the NPC thinks of the player as the turn began
    context: DebugContext | None = None  # only for `"debug": true` from a studio or admin token
    # The phrases of the NPC's faction's language in `text`, translated as far as the player knows it.
    phrases: list[PhraseView] = Field(default_factory=list)
    quest_offer: QuestOffer | None = None  # a quest the NPC offers (read with the turn's batch)
    # In a group session, who picked the NPC: "addressed" (the frame named it) or the director's
    # reason (aicore.npc.director); None in a one-to-one session.
    chosen_by: str | None = None


class WorldStateReader(Protocol):
    def state(self, world_id: str) -> StoredState:
        """The world's definition, clock, state version and facts, in one read."""
        ...


@dataclass
class TurnDeps:
    world: WorldStore
    mind: TurnMind
    sessions: SessionService
    router: Router
    pusher: ClientPusher
    events: EventPublisher
    settings: SettingsCache  # the world's settings (performance mode, limits, pacing), <= 30 s old
    limiter: TurnLimiter  # the player's and the connection's turn budgets
    # At most one token frame per this, after the first (the settings' `token_frame_interval_ms` wins).
    token_interval_s: float = DEFAULT_INTERVAL_S
    clock: Clock = now  # a token's expiry is checked against it
    # The world's time, which memories and moods decay by and the turn's event is stamped with:
    # the wall clock in the cloud; `aicore local` can move it on (POST /_local/clock).
    game_clock: Clock = game_time
    # The world's live state (time, weather, facts: `aicore.world.now`); None: the turn knows none.
    world_state: WorldStateReader | None = None
    # Claims of request ids (`aicore.npc.requests`): a repeated frame gets the first answer. None: none.
    requests: RequestLedger | None = None
    # How often a streaming turn looks whether the player interrupted it (`aicore.npc.interrupts`).
    interrupt_check_s: float = INTERRUPT_CHECK_S
    # Group sessions: the lines pushed to every other participant's connections. None: pushed to none.
    fan_out: GroupFanOut | None = None
    # Speaks replies for `"voice": true` (`aicore.voice.speech`); None: replies are text only.
    synthesizer: Synthesizer | None = None


@dataclass
class TurnOutcome:
    """The reply, and what is done once the player has it (nothing a player waits for)."""

    reply: TurnReply
    announce: Callable[[], None]


def take_turn(
    frame: NpcSay,
    caller: Caller,
    connection_id: str,
    correlation_id: str,
    deps: TurnDeps,
    watch: InterruptWatch | None = None,
) -> TurnOutcome:
    """Two DynamoDB round trips before the model is asked: the turn budget spent (one conditional
    UpdateItem), the world's data, the session, the NPC's memories of the player and the world's
    state, side by side; then the player's line, stored in one write while the NPC recalls what
    fits the line. The reply is stored in one more write; the event goes out after the player has
    the reply. A player over budget is refused before anything is stored or any model works.
    `watch` says when the player interrupted the turn: the reply stops there, stored as said."""
    if frame.debug and not any(caller.has(role) for role in DEBUG_ROLES):
        raise Forbidden(
            "Only a studio or admin token may ask for a turn's context ('debug': true): "
            "send the frame without it."
        )
    settings = deps.settings.for_world(caller.world_id)  # a container's copy: no round trip mostly
    directed = _direct(frame, caller, deps) if frame.npc_id is None else None
    npc_id = directed.choice.npc_id if directed else str(frame.npc_id)
    frame = frame.model_copy(update={"npc_id": npc_id})
    with traced("turn.read", npc=npc_id):
        _, context, conversation, memories, world_state = in_parallel(
            lambda: deps.limiter.take(caller, connection_id, settings.limits),
            lambda: deps.world.turn_context(caller.world_id, npc_id, caller.subject),
            lambda: (
                directed.conversation
                if directed
                else deps.sessions.conversation(caller, npc_id, frame.session_id, CONTEXT_MESSAGES)
            ),
            lambda: deps.mind.memories.turn_memories(caller.world_id, npc_id, caller.subject),
            lambda: deps.world_state.state(caller.world_id) if deps.world_state else None,
        )
    performance = context.performance.model_copy(
        update={
            "world_mode": settings.world.performance_mode,
            "default_mode": settings.everywhere.performance_mode,
        }
    )
    npc = context.npc
    if npc is None:
        raise NotFound(
            f"There is no NPC '{frame.npc_id}' in world '{caller.world_id}'. "
            f"GET /worlds/{caller.world_id}/npcs lists them.",
            {"npc_id": frame.npc_id, "world_id": caller.world_id},
        )
    player = Participant(id=caller.subject, kind=ParticipantKind.PLAYER)
    profile = performance.npc_say()
    moment = deps.game_clock()
    world = _world_around(world_state, npc, deps.clock)
    world_lines = world.prompt_lines(WORLD_PROMPT_CHARS) if world else []

    def store_player_line() -> tuple[SessionHead, list[Message]]:
        # The player's words are stored before the model runs: a failed reply never loses them.
        with traced("turn.store_player_line"):
            return deps.sessions.speak(
                caller,
                conversation.head,
                [NewMessage(speaker=player, text=frame.text, correlation_id=correlation_id)],
                first=conversation.new,
            )

    def recall() -> Recollection:
        with traced("turn.recall"):
            return recollect(
                deps.mind,
                npc,
                context,
                memories,
                frame.text,
                moment,
                lore_query_by_model=profile.lore_query_by_model,
            )

    def group_names() -> dict[str, str] | None:
        if not is_group(conversation.head):
            return None
        npcs = directed.npcs if directed else _session_npcs(deps.world, caller.world_id, conversation.head)
        return speaker_names(conversation.head, npcs)

    (head, spoken_lines), recollection, names = in_parallel(store_player_line, recall, group_names)
    group = _GroupTurn.start(deps.fan_out, caller, connection_id, head, spoken_lines, names)
    phrases = _phrases(
        world_state, npc, conversation.messages, head.summary, frame.text, recollection, correlation_id
    )

    messages = build_prompt(
        npc,
        recollection.lore,
        context.memory,
        conversation.messages,
        frame.text,
        summary=head.summary,
        mind=recollection.prompt_section() + prompt_line(context.quest_offer),
        world=world_lines,
        speakers=names,
        speaker_id=caller.subject,
    )
    interval_ms = settings.token_frame_interval_ms
    interval_s = deps.token_interval_s if interval_ms is None else interval_ms / 1000
    stream = TokenStream(deps.pusher, connection_id, frame.request_id, interval_s)
    voice = _voice_stream(frame, npc, connection_id, deps, stream.first_frame_sent)
    push = stream.push if voice is None else _Voiced(stream.push, voice)
    spoken = _Spoken(push, watch)
    try:
        if phrases.prefix:
            spoken.say(phrases.prefix)  # the player hears the NPC's own tongue before the model starts
        with traced("turn.model", mode=performance.effective.value):
            completion = deps.router.stream(
                ModelRequest(
                    messages,
                    first_token_budget_ms=profile.first_token_budget_ms,
                    max_tokens=profile.max_tokens,
                ),
                on_token=_Trimmed(spoken),
                scripted_line=lambda: _scripted_line(npc),
            )
        if phrases.suffix and not spoken.interrupted:
            push(phrases.suffix)
    finally:
        stream.finish()
        if voice is not None:
            voice.close(interrupted=spoken.interrupted)
    if spoken.interrupted:  # what the player heard is the reply: stored as said
        completion = replace(completion, text=spoken.text, truncated=True, truncated_reason=INTERRUPTED)
    else:
        completion = replace(completion, text=phrases.spoken(completion.text))

    speaker = Participant(id=npc.npc_id, kind=ParticipantKind.NPC)
    with traced("turn.store_reply", tier=completion.tier):
        head, stored = deps.sessions.speak(
            npc_voice(caller, npc),
            head,
            [NewMessage(speaker=speaker, text=completion.text, correlation_id=correlation_id)],
        )

    turn = _Turn(caller, npc, frame, correlation_id, head.session_id, stamp(moment))

    def announce() -> None:
        if group is not None:
            group.reply(stored)
        if voice is not None:  # the last sentences' audio: the function must not end before it is sent
            with traced("turn.voice"):
                voice.wait()
        with traced("turn.publish"):
            _publish(deps, turn, completion, recollection.memory_ids, phrases.heard())
        _record_metrics(completion)

    reply = _reply(
        head.session_id,
        npc.npc_id,
        stored[0].seq,
        completion,
        performance.effective,
        recollection,
        world.context(world_lines) if frame.debug and world else None,
        phrases.views(context.proficiency),
        debug=frame.debug,
    )
    reply.quest_offer = context.quest_offer
    if names is not None:
        reply.chosen_by = directed.choice.reason if directed else ADDRESSED
    return TurnOutcome(reply, announce)


@dataclass(frozen=True)
class _Directed:
    """A line to a session that names no NPC: the session as read, its NPCs, the director's pick."""

    conversation: Conversation
    npcs: list[Npc]
    choice: Choice


def _direct(frame: NpcSay, caller: Caller, deps: TurnDeps) -> _Directed:
    """The session and the world's NPCs, side by side (one round trip more than a named turn), then
    the director's pick among the session's NPCs."""
    if frame.session_id is None:  # the frame's own validation says so too
        raise InvalidRequest("Name the NPC ('npc_id'): only a session's director picks one.")
    session_id = frame.session_id
    with traced("turn.direct"):
        conversation, world_npcs = in_parallel(
            lambda: deps.sessions.session_conversation(caller, session_id, CONTEXT_MESSAGES),
            lambda: deps.world.list_npcs(caller.world_id),
        )
    npcs = _in_session(conversation.head, world_npcs)
    return _Directed(conversation, npcs, choose_responder(frame.text, npcs, conversation.messages))


def _session_npcs(world: WorldStore, world_id: str, head: SessionHead) -> list[Npc]:
    return _in_session(head, world.list_npcs(world_id))


def _in_session(head: SessionHead, npcs: list[Npc]) -> list[Npc]:
    """The session's NPCs that the world has, in the session's order."""
    by_id = {npc.npc_id: npc for npc in npcs}
    return [by_id[p.id] for p in head.participants if p.kind is ParticipantKind.NPC and p.id in by_id]


def speaker_names(head: SessionHead, npcs: list[Npc]) -> dict[str, str]:
    """Who is who in a group session's lines: NPCs by name, players by id (tokens carry no name)."""
    names = {npc.npc_id: npc.name for npc in npcs}
    return {p.id: names.get(p.id, p.id) for p in head.participants}


@dataclass
class _GroupTurn:
    """A turn in a group session: the player's line is pushed to the other participants while the
    model works (in the background); the reply follows it once stored, to the same connections."""

    fan_out: GroupFanOut
    names: dict[str, str]
    audience: Future[Audience]

    @classmethod
    def start(
        cls,
        fan_out: GroupFanOut | None,
        caller: Caller,
        connection_id: str,
        head: SessionHead,
        lines: list[Message],
        names: dict[str, str] | None,
    ) -> _GroupTurn | None:
        if fan_out is None or names is None:
            return None

        def push_line() -> Audience:
            audience = fan_out.audience(head, caller.world_id, skip_connection=connection_id)
            fan_out.push(audience, lines, names)
            return audience

        return cls(fan_out, names, _BACKGROUND.submit(push_line))

    def reply(self, lines: list[Message]) -> None:
        with traced("turn.fan_out"):
            self.fan_out.push(self.audience.result(), lines, self.names)


def _phrases(
    state: StoredState | None,
    npc: Npc,
    history: list[Message],
    summary: str,
    player_line: str,
    recollection: Recollection,
    turn_id: str,
) -> Sprinkle:
    """The phrases of the NPC's faction's language this reply carries (none if it has no language)."""
    definition = state.definition if state is not None else None
    lexicon = faction_lexicon(definition.factions, npc.faction) if definition else None
    emotion = recollection.emotion
    moment = Moment(
        turn_id=turn_id,
        first_line=not summary and not any(m.speaker.id == npc.npc_id for m in history),
        player_line=player_line,
        feeling=emotion.intensities.get(emotion.dominant, 0.0),
    )
    return sprinkle(lexicon, moment)


def _voice_stream(
    frame: NpcSay, npc: Npc, connection_id: str, deps: TurnDeps, after: threading.Event
) -> VoiceStream | None:
    if not frame.voice or deps.synthesizer is None:
        return None
    return VoiceStream(deps.synthesizer, npc.voice, deps.pusher, connection_id, frame.request_id, after=after)


class _Voiced:
    """Pushes text to the player's token stream, and what was pushed to the voice."""

    def __init__(self, push: Callable[[str], bool], voice: VoiceStream) -> None:
        self._push, self._voice = push, voice

    def __call__(self, text: str) -> bool:
        if not self._push(text):
            return False
        self._voice.add(text)
        return True


class _Spoken:
    """What went to the player's stream, in order. As a token sink it says stop (False) once the
    client is gone, or once `watch` (read after each piece sent) says the player interrupted."""

    def __init__(self, push: Callable[[str], bool], watch: InterruptWatch | None) -> None:
        self._push, self._watch = push, watch
        self._said: list[str] = []
        self.interrupted = False

    def say(self, text: str) -> bool:
        if not self._push(text):
            return False
        self._said.append(text)
        return True

    def __call__(self, token: str) -> bool:
        if not self.say(token):
            return False
        if self._watch is not None and self._watch():
            self.interrupted = True
            return False
        return True

    @property
    def text(self) -> str:
        return "".join(self._said)


class _Trimmed:
    """The model's tokens as streamed: the reply is stored stripped, so the first token's leading
    space and the last ones' trailing space are not streamed either (streamed == stored)."""

    def __init__(self, sink: TokenSink) -> None:
        self._sink = sink
        self._started = False
        self._held = ""  # whitespace at the end so far: sent only if words follow it

    def __call__(self, token: str) -> bool | None:
        if not self._started:
            token = token.lstrip()
            self._started = bool(token)
        text = self._held + token
        words = text.rstrip()
        self._held = text[len(words) :]
        return self._sink(words) if words else True


def _world_around(state: StoredState | None, npc: Npc, clock: Clock) -> WorldNow | None:
    """The world as the NPC finds it now (the wall clock, as `GET /worlds/{world}/state` reads it)."""
    return world_now(state, npc.region, clock().timestamp()) if state is not None else None


@dataclass(frozen=True)
class _Turn:
    caller: Caller
    npc: Npc
    frame: NpcSay
    correlation_id: str
    session_id: str
    occurred_at: str  # the game clock's time as the turn began


def _publish(
    deps: TurnDeps, turn: _Turn, completion: Completion, memory_ids: list[str], phrases_heard: dict[str, int]
) -> None:
    deps.events.publish(
        NPC_SOURCE,
        NPC_TURN_COMPLETED,
        NpcTurnCompleted(
            world_id=turn.caller.world_id,
            correlation_id=turn.correlation_id,
            occurred_at=turn.occurred_at,
            session_id=turn.session_id,
            npc_id=turn.npc.npc_id,
            player_id=turn.caller.subject,
            player_line=turn.frame.text,
            reply=completion.text,
            tier=completion.tier,
            fallback=completion.fallback,
            fallback_reason=completion.fallback_reason,
            first_token_ms=round(completion.first_token_ms, 1),
            memory_ids=memory_ids,
            phrases_heard=phrases_heard,
        ),
    )


def npc_voice(caller: Caller, npc: Npc) -> Caller:
    """Who stores the NPC's line: the NPC itself, in the player's world (it must be in the session)."""
    return Caller(subject=npc.npc_id, world_id=caller.world_id, roles=(Role.NPC,))


def _record_metrics(completion: Completion) -> None:
    """One EMF record per turn, with its own tier dimension (the handler's shared metrics keep none)."""
    turn = EphemeralMetrics(namespace=SERVICE, service=SERVICE)
    for name, value in metric_dimensions().items():
        turn.add_dimension(name=name, value=value)
    turn.add_dimension(name=TIER_DIMENSION, value=completion.tier)
    turn.add_metric(name=FIRST_TOKEN_METRIC, unit=MetricUnit.Milliseconds, value=completion.first_token_ms)
    turn.add_metric(
        name=TOKENS_PER_SECOND_METRIC, unit=MetricUnit.CountPerSecond, value=completion.tokens_per_s
    )
    turn.add_metric(name=FALLBACK_METRIC, unit=MetricUnit.Count, value=int(completion.fallback))
    turn.flush_metrics()


def _scripted_line(npc: Npc) -> str:
    lines = npc.fallback_lines or [npc.greeting]
    return random.choice(lines)


def _reply(
    session_id: str,
    npc_id: str,
    seq: int,
    completion: Completion,
    mode: str,
    recollection: Recollection,
    world: WorldContext | None,
    phrases: list[PhraseView],
    debug: bool,
) -> TurnReply:
    return TurnReply(
        session_id=session_id,
        npc_id=npc_id,
        text=completion.text,
        tier=completion.tier,
        fallback=completion.fallback,
        fallback_reason=completion.fallback_reason,
        truncated=completion.truncated,
        truncated_reason=completion.truncated_reason,
        mode=mode,
        seq=seq,
        timings=TurnTimings(
            first_token_ms=completion.first_token_ms,
            model_ms=completion.total_ms,
            tokens=completion.tokens,
            tokens_per_s=completion.tokens_per_s,
            prompt_tokens=completion.prompt_tokens,
        ),
        emotion=recollection.emotion,
        relationship=recollection.relationship,
        phrases=phrases,
        context=(
            debug_context(
                recollection.memories,
                recollection.relationship,
                recollection.emotion,
                recollection.lore,
                world,
            )
            if debug
            else None
        ),
    )
