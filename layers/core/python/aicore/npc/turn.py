"""One NPC turn: the player's line is stored, the reply streams token by token, then is stored too.

The prompt holds what the NPC recalls for this line (`aicore.npc.recollection`): its memories of
the player and general ones, the lore it may know, how it feels about the player and its mood. All
of it is read beside the turn's other reads and ranked in process while the player's line is
written: no extra round trip before the model, and no model call unless the mode allows one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from pydantic import BaseModel, Field

from aicore.auth import Caller, Role
from aicore.clock import Clock, game_time, now, stamp
from aicore.connections import ClientPusher
from aicore.errors import Forbidden, NotFound
from aicore.events import EventDetail, EventPublisher
from aicore.frames import NpcSay
from aicore.llm.router import Completion, ModelRequest, Router
from aicore.mind.turn import DebugContext, EmotionView, RelationshipView, debug_context
from aicore.npc.prompt import build_prompt
from aicore.npc.recollection import Recollection, TurnMind, recollect
from aicore.npc.token_stream import DEFAULT_INTERVAL_S, TokenStream
from aicore.observability import in_parallel, metric_dimensions, traced
from aicore.performance import DEFAULT_MODE, NPC_SAY_PROFILES
from aicore.quests.models import QuestOffer
from aicore.quests.offers import prompt_line
from aicore.sessions.models import Message, NewMessage, Participant, ParticipantKind, SessionHead
from aicore.sessions.service import SessionService
from aicore.topology import (
    FALLBACK_METRIC,
    FIRST_TOKEN_METRIC,
    NPC_SOURCE,
    NPC_TURN_COMPLETED,
    SERVICE,
    TIER_DIMENSION,
    TOKENS_PER_SECOND_METRIC,
)
from aicore.world.models import Npc
from aicore.world.store import WorldStore

CONTEXT_MESSAGES = 20
NPC_SAY_MAX_TOKENS = NPC_SAY_PROFILES[DEFAULT_MODE].max_tokens  # performance modes shift it
DEBUG_ROLES = (Role.STUDIO, Role.ADMIN)  # who may see a turn's context (`"debug": true`)


class NpcTurnCompleted(EventDetail):
    session_id: str
    npc_id: str
    player_id: str
    player_line: str
    reply: str
    tier: str
    fallback: bool
    # Memories the turn's prompt used (`aicore.mind.turn.recall`): the consumer marks them accessed.
    memory_ids: list[str] = Field(default_factory=list, max_length=100)


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
    truncated_reason: str | None = None  # `length`: the token limit was reached; else why the stream broke
    mode: str  # the performance mode the turn ran in
    seq: int
    timings: TurnTimings
    emotion: EmotionView  # the NPC's mood as the turn began
    relationship: RelationshipView  # what the NPC thinks of the player as the turn began
    context: DebugContext | None = None  # only for `"debug": true` from a studio or admin token
    quest_offer: QuestOffer | None = None  # a quest the NPC offers (read with the turn's batch)


@dataclass
class TurnDeps:
    world: WorldStore
    mind: TurnMind
    sessions: SessionService
    router: Router
    pusher: ClientPusher
    events: EventPublisher
    token_interval_s: float = DEFAULT_INTERVAL_S  # at most one token frame per this, after the first
    clock: Clock = now  # a token's expiry is checked against it
    # The world's time, which memories and moods decay by and the turn's event is stamped with:
    # the wall clock in the cloud; `aicore local` can move it on (POST /_local/clock).
    game_clock: Clock = game_time


@dataclass
class TurnOutcome:
    """The reply, and what is done once the player has it (nothing a player waits for)."""

    reply: TurnReply
    announce: Callable[[], None]


def take_turn(
    frame: NpcSay, caller: Caller, connection_id: str, correlation_id: str, deps: TurnDeps
) -> TurnOutcome:
    """Two DynamoDB round trips before the model is asked: the world's data, the session and the
    NPC's memories of the player, read side by side; then the player's line, stored in one write
    while the NPC recalls what fits the line. The reply is stored in one more write; the event goes
    out after the player has the reply."""
    if frame.debug and not any(caller.has(role) for role in DEBUG_ROLES):
        raise Forbidden(
            "Only a studio or admin token may ask for a turn's context ('debug': true): "
            "send the frame without it."
        )
    with traced("turn.read", npc=frame.npc_id):
        context, conversation, memories = in_parallel(
            lambda: deps.world.turn_context(caller.world_id, frame.npc_id, caller.subject),
            lambda: deps.sessions.conversation(caller, frame.npc_id, frame.session_id, CONTEXT_MESSAGES),
            lambda: deps.mind.memories.turn_memories(caller.world_id, frame.npc_id, caller.subject),
        )
    npc = context.npc
    if npc is None:
        raise NotFound(
            f"There is no NPC '{frame.npc_id}' in world '{caller.world_id}'. "
            f"GET /worlds/{caller.world_id}/npcs lists them.",
            {"npc_id": frame.npc_id, "world_id": caller.world_id},
        )
    player = Participant(id=caller.subject, kind=ParticipantKind.PLAYER)
    profile = context.performance.npc_say()
    moment = deps.game_clock()

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

    (head, _), recollection = in_parallel(store_player_line, recall)

    messages = build_prompt(
        npc,
        recollection.lore,
        context.memory,
        conversation.messages,
        frame.text,
        summary=head.summary,
        mind=recollection.prompt_section() + prompt_line(context.quest_offer),
    )
    stream = TokenStream(deps.pusher, connection_id, frame.request_id, deps.token_interval_s)
    try:
        with traced("turn.model", mode=context.performance.effective.value):
            completion = deps.router.stream(
                ModelRequest(
                    messages,
                    first_token_budget_ms=profile.first_token_budget_ms,
                    max_tokens=profile.max_tokens,
                ),
                on_token=stream.push,
                scripted_line=lambda: _scripted_line(npc),
            )
    finally:
        stream.finish()

    speaker = Participant(id=npc.npc_id, kind=ParticipantKind.NPC)
    with traced("turn.store_reply", tier=completion.tier):
        head, stored = deps.sessions.speak(
            npc_voice(caller, npc),
            head,
            [NewMessage(speaker=speaker, text=completion.text, correlation_id=correlation_id)],
        )

    turn = _Turn(caller, npc, frame, correlation_id, head.session_id, stamp(moment))

    def announce() -> None:
        with traced("turn.publish"):
            _publish(deps, turn, completion, recollection.memory_ids)
        _record_metrics(completion)

    reply = _reply(
        head.session_id,
        npc.npc_id,
        stored[0].seq,
        completion,
        context.performance.effective,
        recollection,
        debug=frame.debug,
    )
    reply.quest_offer = context.quest_offer
    return TurnOutcome(reply, announce)


@dataclass(frozen=True)
class _Turn:
    caller: Caller
    npc: Npc
    frame: NpcSay
    correlation_id: str
    session_id: str
    occurred_at: str  # the game clock's time as the turn began


def _publish(deps: TurnDeps, turn: _Turn, completion: Completion, memory_ids: list[str]) -> None:
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
            memory_ids=memory_ids,
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
        context=(
            debug_context(
                recollection.memories, recollection.relationship, recollection.emotion, recollection.lore
            )
            if debug
            else None
        ),
    )
