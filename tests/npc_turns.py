"""An NPC turn over fakes, run through the real npc-say handler (shared by the unit tests)."""

from __future__ import annotations

import json
from typing import Any

from aicore.auth import EXPIRES_AT, Caller
from aicore.llm.router import Router, Tier
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.npc.turn import LoreCache, TurnDeps
from aicore.sessions.service import SessionService
from aicore.topology import TOPOLOGY
from aicore.world.models import Npc
from tests.events import load_event
from tests.fakes import (
    FakeColdTier,
    FakePublisher,
    FakePusher,
    FakeSessions,
    FakeWorld,
    ScriptedEndpoint,
)
from tests.virtual_time import VirtualTime

CONNECTION = "bZ1wrcG1IAMCJbA="  # the connection id of tests/events/ws_message.json
MIRA = Npc(
    npc_id="mira",
    world_id="demo",
    name="Mira",
    persona="Innkeeper.",
    speech_style="Warm.",
    greeting="Welcome!",
    fallback_lines=["One moment, love!"],
)
PLAYER = Caller(subject="p1", world_id="demo")
TOKEN_EXPIRES_AT = 4_102_444_800  # 2100-01-01: the player's token outlives every test
TIERS = {Tier.GOLD: "gold", Tier.SILVER: "silver"}


def turn_deps(world: FakeWorld | None = None, endpoint: ScriptedEndpoint | None = None) -> TurnDeps:
    """Mira in world demo, fakes everywhere (the player is named per frame: `say`).

    The router runs on virtual time: the turn's deadlines hold however busy the machine is.
    """
    world = world or FakeWorld()
    world.put_npc(MIRA)
    return TurnDeps(
        world=world,
        lore=LoreCache(world),
        sessions=SessionService(sessions := FakeSessions(), FakeColdTier(sessions), FakePublisher()),
        router=virtual_router(endpoint or ScriptedEndpoint()),
        pusher=FakePusher(),
        events=FakePublisher(),
    )


def virtual_router(endpoint: ScriptedEndpoint) -> Router:
    time = VirtualTime()
    return Router(endpoint, TIERS, clock=time, wait=time.wait)


def connected(
    body: str, caller: Caller = PLAYER, expires_at: int = TOKEN_EXPIRES_AT, route_key: str = "npc.say"
) -> dict[str, Any]:
    """A frame's event on CONNECTION, opened by `caller` with a token valid until `expires_at`:
    API Gateway puts the `$connect` authorizer's context on every event of the connection."""
    event = load_event("ws_message", body=body)
    authorizer = {**caller.as_context(), EXPIRES_AT: str(expires_at)}
    event["requestContext"] = {**event["requestContext"], "routeKey": route_key, "authorizer": authorizer}
    return event


def say(deps: TurnDeps, player: Caller = PLAYER, **frame: Any) -> FakePusher:
    """`player` says "Any rooms?" to Mira (fields override the frame); the frames pushed back."""
    body = {"action": "npc.say", "request_id": "r-1", "npc_id": "mira", "text": "Any rooms?"} | frame
    handler = Lambdas().module(TOPOLOGY.function("npc-say")).handler
    result = handler(connected(json.dumps(body), player), LambdaContext("npc-say", 1024, 60), deps=deps)
    assert result == {"statusCode": 200}
    assert isinstance(deps.pusher, FakePusher)
    return deps.pusher
