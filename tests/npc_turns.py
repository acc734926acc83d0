"""An NPC turn over fakes, run through the real npc-say handler (shared by the unit tests)."""

from __future__ import annotations

import json
from typing import Any

from aicore.auth import Caller
from aicore.connections import new_connection
from aicore.llm.router import Router, Tier
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.npc.turn import LoreCache, TurnDeps
from aicore.sessions.service import SessionService
from aicore.topology import TOPOLOGY
from aicore.world.models import Npc
from tests.events import load_event
from tests.fakes import (
    FakeColdTier,
    FakeConnections,
    FakePublisher,
    FakePusher,
    FakeSessions,
    FakeWorld,
    ScriptedEndpoint,
)

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


def turn_deps(
    world: FakeWorld | None = None,
    endpoint: ScriptedEndpoint | None = None,
    player: Caller = PLAYER,
) -> TurnDeps:
    """Mira in world demo, the player connected on CONNECTION, fakes everywhere else."""
    world = world or FakeWorld()
    world.put_npc(MIRA)
    connections = FakeConnections()
    connections.put(new_connection(CONNECTION, player, TOKEN_EXPIRES_AT))
    return TurnDeps(
        connections=connections,
        world=world,
        lore=LoreCache(world),
        sessions=SessionService(sessions := FakeSessions(), FakeColdTier(sessions), FakePublisher()),
        router=Router(endpoint or ScriptedEndpoint(), {Tier.GOLD: "gold", Tier.SILVER: "silver"}),
        pusher=FakePusher(),
        events=FakePublisher(),
    )


def say(deps: TurnDeps, **frame: Any) -> FakePusher:
    """The player says "Any rooms?" to Mira (fields override the frame); the frames pushed back."""
    body = {"action": "npc.say", "request_id": "r-1", "npc_id": "mira", "text": "Any rooms?"} | frame
    handler = Lambdas().module(TOPOLOGY.function("npc-say")).handler
    result = handler(
        load_event("ws_message", body=json.dumps(body)), LambdaContext("npc-say", 1024, 60), deps=deps
    )
    assert result == {"statusCode": 200}
    assert isinstance(deps.pusher, FakePusher)
    return deps.pusher
