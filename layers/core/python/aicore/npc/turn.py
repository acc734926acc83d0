"""One NPC turn: the player's line is stored, the reply streams token by token, then is stored too."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from pydantic import BaseModel

from aicore.auth import Caller, Role
from aicore.connections import ClientPusher, ConnectionStore, require_connection
from aicore.errors import NotFound
from aicore.events import EventDetail, EventPublisher
from aicore.frames import NpcSay, token_frame
from aicore.llm.router import Completion, ModelRequest, Router
from aicore.npc.prompt import build_prompt
from aicore.observability import logger, metric_dimensions
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
    truncated: bool
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
    connections: ConnectionStore
    world: WorldStore
    lore: LoreCache
    sessions: SessionService
    router: Router
    pusher: ClientPusher
    events: EventPublisher


def take_turn(frame: NpcSay, connection_id: str, correlation_id: str, deps: TurnDeps) -> TurnReply:
    caller = require_connection(deps.connections, connection_id).caller
    context = deps.world.turn_context(caller.world_id, frame.npc_id, caller.subject)
    npc, memory = context.npc, context.memory
    if npc is None:
        raise NotFound(
            f"There is no NPC '{frame.npc_id}' in world '{caller.world_id}'. "
            f"GET /worlds/{caller.world_id}/npcs lists them.",
            {"npc_id": frame.npc_id, "world_id": caller.world_id},
        )
    view = deps.sessions.conversation(caller, npc.npc_id, frame.session_id, CONTEXT_MESSAGES)
    player = Participant(id=caller.subject, kind=ParticipantKind.PLAYER)
    # The player's words are stored before the model runs: a failed reply never loses them.
    head, _ = deps.sessions.speak(
        caller, view.session, [NewMessage(speaker=player, text=frame.text, correlation_id=correlation_id)]
    )

    messages = build_prompt(
        npc, deps.lore.get(caller.world_id), memory, view.messages, frame.text, summary=view.session.summary
    )
    stream = _TokenStream(deps.pusher, connection_id, frame.request_id)
    profile = context.performance.npc_say()
    try:
        completion = deps.router.stream(
            ModelRequest(
                messages, first_token_budget_ms=profile.first_token_budget_ms, max_tokens=profile.max_tokens
            ),
            on_token=stream.push,
            scripted_line=lambda: _scripted_line(npc),
        )
    finally:
        stream.finish()

    speaker = Participant(id=npc.npc_id, kind=ParticipantKind.NPC)
    head, stored = deps.sessions.speak(
        npc_voice(caller, npc),
        head,
        [NewMessage(speaker=speaker, text=completion.text, correlation_id=correlation_id)],
    )
    deps.events.publish(
        NPC_SOURCE,
        NPC_TURN_COMPLETED,
        NpcTurnCompleted(
            world_id=caller.world_id,
            correlation_id=correlation_id,
            session_id=head.session_id,
            npc_id=npc.npc_id,
            player_id=caller.subject,
            player_line=frame.text,
            reply=completion.text,
            tier=completion.tier,
            fallback=completion.fallback,
        ),
    )
    _record_metrics(completion)
    return _reply(head.session_id, npc.npc_id, stored[0].seq, completion, context.performance.effective)


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


class _TokenStream:
    """Pushes tokens to the client from a background thread, as fast as the connection takes them.

    The first token goes out at once; tokens that arrive while a push is in flight go together
    in the next frame. So a slow push never slows the model down, and a turn costs fewer (billed)
    WebSocket messages. Once the client has gone, nothing more is pushed.
    """

    def __init__(self, pusher: ClientPusher, connection_id: str, request_id: str) -> None:
        self._pusher, self._connection_id, self._request_id = pusher, connection_id, request_id
        self._pending: list[str] = []
        self._finished = False
        self._ready = threading.Condition()
        self.client_gone = False
        self._sender = threading.Thread(target=self._send_until_finished, name="token-stream", daemon=True)
        self._sender.start()

    def push(self, text: str) -> None:
        with self._ready:
            self._pending.append(text)
            self._ready.notify()

    def finish(self) -> None:
        """Send what is left and wait for it: the reply frame must come after every token."""
        with self._ready:
            self._finished = True
            self._ready.notify()
        self._sender.join()

    def _send_until_finished(self) -> None:
        while (text := self._next_batch()) is not None:
            if self.client_gone:
                continue
            try:
                self.client_gone = not self._pusher.send(
                    self._connection_id, token_frame(self._request_id, text)
                )
            except Exception:
                logger.exception("Pushing tokens failed; the reply is still stored")
                self.client_gone = True

    def _next_batch(self) -> str | None:
        with self._ready:
            self._ready.wait_for(lambda: self._pending or self._finished)
            if not self._pending:
                return None
            batch = "".join(self._pending)
            self._pending.clear()
            return batch


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
