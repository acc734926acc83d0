"""One NPC turn: the player's line is stored, the reply streams token by token, then is stored too."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from pydantic import BaseModel, Field

from aicore.auth import Caller, Role
from aicore.clock import Clock, now
from aicore.connections import ClientPusher
from aicore.errors import NotFound
from aicore.events import EventDetail, EventPublisher
from aicore.frames import NpcSay
from aicore.llm.router import Completion, ModelRequest, Router
from aicore.npc.prompt import build_prompt
from aicore.npc.token_stream import DEFAULT_INTERVAL_S, TokenStream
from aicore.observability import in_parallel, metric_dimensions, traced
from aicore.performance import DEFAULT_MODE, NPC_SAY_PROFILES
from aicore.sessions.models import NewMessage, Participant, ParticipantKind
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
from aicore.world.models import LoreFact, Npc
from aicore.world.store import WorldStore

CONTEXT_MESSAGES = 20
NPC_SAY_MAX_TOKENS = NPC_SAY_PROFILES[DEFAULT_MODE].max_tokens  # performance modes shift it
LORE_CACHE_S = 60.0


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


class LoreCache:
    """Lore changes rarely: each warm container re-reads it at most once a minute per world."""

    def __init__(self, world: WorldStore, max_age_s: float = LORE_CACHE_S) -> None:
        self._world, self._max_age = world, max_age_s
        self._entries: dict[str, tuple[float, list[LoreFact]]] = {}

    def get(self, world_id: str) -> list[LoreFact]:
        cached = self._entries.get(world_id)
        if cached is None or time.monotonic() - cached[0] > self._max_age:
            cached = (time.monotonic(), self._world.lore(world_id))
            self._entries[world_id] = cached
        return cached[1]


@dataclass
class TurnDeps:
    world: WorldStore
    lore: LoreCache
    sessions: SessionService
    router: Router
    pusher: ClientPusher
    events: EventPublisher
    token_interval_s: float = DEFAULT_INTERVAL_S  # at most one token frame per this, after the first
    clock: Clock = now  # a token's expiry is checked against it


@dataclass
class TurnOutcome:
    """The reply, and what is done once the player has it (nothing a player waits for)."""

    reply: TurnReply
    announce: Callable[[], None]


def take_turn(
    frame: NpcSay, caller: Caller, connection_id: str, correlation_id: str, deps: TurnDeps
) -> TurnOutcome:
    """Two DynamoDB round trips before the model is asked: the world's data and the session, read
    side by side; then the player's line, stored in one write. The reply is stored in one more;
    the event goes out after the player has the reply."""
    with traced("turn.read", npc=frame.npc_id):
        context, conversation = in_parallel(
            lambda: deps.world.turn_context(caller.world_id, frame.npc_id, caller.subject),
            lambda: deps.sessions.conversation(caller, frame.npc_id, frame.session_id, CONTEXT_MESSAGES),
        )
    npc = context.npc
    if npc is None:
        raise NotFound(
            f"There is no NPC '{frame.npc_id}' in world '{caller.world_id}'. "
            f"GET /worlds/{caller.world_id}/npcs lists them.",
            {"npc_id": frame.npc_id, "world_id": caller.world_id},
        )
    player = Participant(id=caller.subject, kind=ParticipantKind.PLAYER)
    # The player's words are stored before the model runs: a failed reply never loses them.
    with traced("turn.store_player_line"):
        head, _ = deps.sessions.speak(
            caller,
            conversation.head,
            [NewMessage(speaker=player, text=frame.text, correlation_id=correlation_id)],
            first=conversation.new,
        )

    history = conversation.messages
    messages = build_prompt(
        npc, deps.lore.get(caller.world_id), context.memory, history, frame.text, summary=head.summary
    )
    stream = TokenStream(deps.pusher, connection_id, frame.request_id, deps.token_interval_s)
    profile = context.performance.npc_say()
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

    def announce() -> None:
        with traced("turn.publish"):
            _publish(deps, caller, npc, frame, correlation_id, head.session_id, completion)
        _record_metrics(completion)

    reply = _reply(head.session_id, npc.npc_id, stored[0].seq, completion, context.performance.effective)
    return TurnOutcome(reply, announce)


def _publish(
    deps: TurnDeps,
    caller: Caller,
    npc: Npc,
    frame: NpcSay,
    correlation_id: str,
    session_id: str,
    completion: Completion,
) -> None:
    deps.events.publish(
        NPC_SOURCE,
        NPC_TURN_COMPLETED,
        NpcTurnCompleted(
            world_id=caller.world_id,
            correlation_id=correlation_id,
            session_id=session_id,
            npc_id=npc.npc_id,
            player_id=caller.subject,
            player_line=frame.text,
            reply=completion.text,
            tier=completion.tier,
            fallback=completion.fallback,
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


def _reply(session_id: str, npc_id: str, seq: int, completion: Completion, mode: str) -> TurnReply:
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
    )
