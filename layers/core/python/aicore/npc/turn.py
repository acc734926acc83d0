"""One NPC turn: the player's line is stored, the reply streams token by token, then is stored too."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

from aicore.connections import ClientPusher, ConnectionStore, require_connection
from aicore.errors import NotFound
from aicore.events import EventDetail, EventPublisher
from aicore.frames import NpcSay, token_frame
from aicore.models.router import GOLD_BUDGET_MS, Completion, ModelRequest, Router
from aicore.npc.prompt import build_prompt
from aicore.observability import metrics
from aicore.sessions.models import NewMessage, Participant, ParticipantKind
from aicore.sessions.service import conversation_with
from aicore.sessions.store import SessionStore
from aicore.topology import NPC_SOURCE, NPC_TURN_COMPLETED
from aicore.world.models import LoreFact, Npc
from aicore.world.store import WorldStore

CONTEXT_MESSAGES = 20
NPC_SAY_MAX_TOKENS = 64
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


class TurnReply(BaseModel):
    session_id: str
    npc_id: str
    text: str
    tier: str
    fallback: bool
    truncated: bool
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
    sessions: SessionStore
    router: Router
    pusher: ClientPusher
    events: EventPublisher


def take_turn(frame: NpcSay, connection_id: str, correlation_id: str, deps: TurnDeps) -> TurnReply:
    caller = require_connection(deps.connections, connection_id).caller
    npc, memory = deps.world.npc_and_memory(caller.world_id, frame.npc_id, caller.subject)
    if npc is None:
        raise NotFound(
            f"There is no NPC '{frame.npc_id}' in world '{caller.world_id}'. "
            f"GET /worlds/{caller.world_id}/npcs lists them.",
            {"npc_id": frame.npc_id, "world_id": caller.world_id},
        )
    view = conversation_with(deps.sessions, caller, npc.npc_id, frame.session_id, CONTEXT_MESSAGES)
    player = Participant(id=caller.subject, kind=ParticipantKind.PLAYER)
    # The player's words are stored before the model runs: a failed reply never loses them.
    head, _ = deps.sessions.append(
        view.session, [NewMessage(speaker=player, text=frame.text, correlation_id=correlation_id)]
    )

    messages = build_prompt(npc, deps.lore.get(caller.world_id), memory, view.messages, frame.text)
    stream = _TokenStream(deps.pusher, connection_id, frame.request_id)
    completion = deps.router.stream(
        ModelRequest(messages, first_token_budget_ms=GOLD_BUDGET_MS, max_tokens=NPC_SAY_MAX_TOKENS),
        on_token=stream.push,
        scripted_line=lambda: _scripted_line(npc),
    )

    speaker = Participant(id=npc.npc_id, kind=ParticipantKind.NPC)
    head, stored = deps.sessions.append(
        head, [NewMessage(speaker=speaker, text=completion.text, correlation_id=correlation_id)]
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
    return _reply(head.session_id, npc.npc_id, stored[0].seq, completion)


def _record_metrics(completion: Completion) -> None:
    metrics.add_dimension(name="tier", value=completion.tier)
    metrics.add_metric(name="FirstTokenMs", unit=MetricUnit.Milliseconds, value=completion.first_token_ms)
    metrics.add_metric(name="TokensPerSecond", unit=MetricUnit.CountPerSecond, value=completion.tokens_per_s)
    metrics.add_metric(name="Fallbacks", unit=MetricUnit.Count, value=int(completion.fallback))


class _TokenStream:
    """Pushes each token to the client as it arrives; stops pushing if the client has gone."""

    def __init__(self, pusher: ClientPusher, connection_id: str, request_id: str) -> None:
        self._pusher, self._connection_id, self._request_id = pusher, connection_id, request_id
        self.client_gone = False

    def push(self, text: str) -> None:
        if not self.client_gone:
            self.client_gone = not self._pusher.send(self._connection_id, token_frame(self._request_id, text))


def _scripted_line(npc: Npc) -> str:
    lines = npc.fallback_lines or [npc.greeting]
    return random.choice(lines)


def _reply(session_id: str, npc_id: str, seq: int, completion: Completion) -> TurnReply:
    return TurnReply(
        session_id=session_id,
        npc_id=npc_id,
        text=completion.text,
        tier=completion.tier,
        fallback=completion.fallback,
        truncated=completion.truncated,
        seq=seq,
        timings=TurnTimings(
            first_token_ms=completion.first_token_ms,
            model_ms=completion.total_ms,
            tokens=completion.tokens,
            tokens_per_s=completion.tokens_per_s,
        ),
    )
