"""An NPC turn over fakes, run through the real npc-say handler (shared by the unit tests)."""

from __future__ import annotations

import json
from typing import Any

from aicore.auth import EXPIRES_AT, Caller
from aicore.knowledge.base import KnowledgeBase
from aicore.knowledge.index import KnowledgeIndex
from aicore.knowledge.models import Chunk, IndexPointer, KnowledgeTags
from aicore.knowledge.store import index_key
from aicore.llm.embedding import Embedder, StaticEmbedder
from aicore.llm.router import Router, Tier
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.mind.policy import MindPolicy
from aicore.npc.recollection import TurnMind
from aicore.npc.turn import TurnDeps
from aicore.platform.limits import TurnLimiter
from aicore.platform.settings import SettingsCache
from aicore.sessions.service import SessionService
from aicore.topology import TOPOLOGY
from aicore.world.models import Npc
from tests.events import load_event
from tests.fakes import (
    FakeColdTier,
    FakeMind,
    FakePublisher,
    FakePusher,
    FakeSessions,
    FakeWorld,
    ScriptedEndpoint,
)
from tests.knowledge_fakes import FakeKnowledgeObjects, FakeKnowledgeStore
from tests.platform_fakes import FakeBudgetStore, FakeSettingsStore, roomy_settings
from tests.virtual_time import VirtualTime
from tests.world_fakes import FakeWorldState

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


EMBEDDER = StaticEmbedder()  # weights load once per test session


def turn_mind(
    world: FakeWorld,
    memories: FakeMind | None = None,
    knowledge: FakeKnowledgeStore | None = None,
    objects: FakeKnowledgeObjects | None = None,
    embedders: tuple[Embedder, ...] = (),
) -> TurnMind:
    """The real recollection over in-memory stores: the world's batch sees the knowledge store's
    pointers, as the turn's BatchGetItem does. `embedders`: more than the static one (by name)."""
    knowledge = knowledge or FakeKnowledgeStore()
    world.pointers = knowledge.pointers
    lookup = {e.name: e for e in (EMBEDDER, *embedders)}.get
    base = KnowledgeBase(knowledge, objects or FakeKnowledgeObjects(), lookup)
    return TurnMind(memories=memories or FakeMind(), knowledge=base, embedder=EMBEDDER, policy=MindPolicy())


def turn_deps(
    world: FakeWorld | None = None,
    endpoint: ScriptedEndpoint | None = None,
    mind: TurnMind | None = None,
    world_state: FakeWorldState | None = None,
    settings: FakeSettingsStore | None = None,
) -> TurnDeps:
    """Mira in world demo, fakes everywhere (the player is named per frame: `say`); `world_state`:
    the world's live state (by default none pushed: the turn knows no time, weather or facts).

    The router runs on virtual time: the turn's deadlines hold however busy the machine is.
    """
    world = world or FakeWorld()
    world.put_npc(MIRA)
    return TurnDeps(
        world=world,
        mind=mind or turn_mind(world),
        sessions=SessionService(sessions := FakeSessions(), FakeColdTier(sessions), FakePublisher()),
        router=virtual_router(endpoint or ScriptedEndpoint()),
        pusher=FakePusher(),
        events=FakePublisher(),
        world_state=world_state or FakeWorldState(),
        settings=SettingsCache(settings or roomy_settings()),
        limiter=TurnLimiter(FakeBudgetStore()),
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


def say(
    deps: TurnDeps, player: Caller = PLAYER, correlation_id: str | None = None, **frame: Any
) -> FakePusher:
    """`player` says "Any rooms?" to Mira (fields override the frame); the frames pushed back.
    `correlation_id`: API Gateway's request id of the frame (else the fixture's, the same every turn)."""
    body = {"action": "npc.say", "request_id": "r-1", "npc_id": "mira", "text": "Any rooms?"} | frame
    handler = Lambdas().module(TOPOLOGY.function("npc-say")).handler
    event = connected(json.dumps(body), player)
    if correlation_id is not None:
        event["requestContext"] = {**event["requestContext"], "requestId": correlation_id}
    result = handler(event, LambdaContext("npc-say", 1024, 60), deps=deps)
    assert result == {"statusCode": 200}
    assert isinstance(deps.pusher, FakePusher)
    return deps.pusher


def publish_lore(
    store: FakeKnowledgeStore,
    objects: FakeKnowledgeObjects,
    world_id: str,
    passages: list[tuple[str, KnowledgeTags]],
    *,
    embedder: Embedder = EMBEDDER,
    revision: int = 1,
) -> IndexPointer:
    """A world's lore index holding `passages` (text, tags), published where the turn finds it."""
    chunks = [
        Chunk(chunk_id=f"{world_id}:{n}", document_id=f"doc-{n}", title="Lore", text=text, tags=tags)
        for n, (text, tags) in enumerate(passages)
    ]
    version = f"v{revision}"
    vectors = embedder.embed([c.searchable() for c in chunks])
    index = KnowledgeIndex.build(world_id, version, embedder.name, chunks, vectors)
    pointer = IndexPointer(
        world_id=world_id,
        version=version,
        key=index_key(world_id, version),
        embedder=embedder.name,
        dimensions=index.dimensions,
        chunks=len(chunks),
        documents=len(chunks),
        revision=revision,
        published_at="2026-11-30T00:00:00.000+00:00",
    )
    objects.put_index(pointer.key, index.to_bytes())
    assert store.publish(pointer, None, pointer.published_at)
    return pointer
