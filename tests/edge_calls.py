"""The real handlers called in process with the events API Gateway builds (the local gateway's own
event builders), over fakes: for tests of what clients can send at the edges."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aicore.auth import EXPIRES_AT, Caller, Role
from aicore.clock import Clock, now
from aicore.knowledge.base import KnowledgeBase
from aicore.knowledge.service import LoreService
from aicore.llm.router import Router
from aicore.local.apigw_events import (
    Api,
    HttpRequest,
    WebSocketPeer,
    http_proxy_event,
    select_route_key,
    websocket_message_event,
)
from aicore.local.http_routes import RouteTable
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.npc.interrupts import InterruptDeps
from aicore.npc.turn import TurnDeps
from aicore.platform.clients import ClientPolicy
from aicore.platform.settings import GLOBAL_SCOPE, SettingsCache, SettingsDeps, StoredSettings, world_scope
from aicore.protocol import ConnectionFrameDeps
from aicore.quests.service import QuestDeps
from aicore.sessions.actions import SessionActionDeps
from aicore.sessions.models import Participant, ParticipantKind, SessionHead
from aicore.sessions.service import SessionService
from aicore.topology import TOPOLOGY, Function
from aicore.world.definition import WorldDefinition
from aicore.world.facts import FactDeps
from aicore.world.narration import NarrationDeps
from aicore.world.push import PushDeps
from aicore.world.pushes import UpdateDeps
from aicore.world.state import Fact, StateDeps
from tests.fakes import (
    FakeColdTier,
    FakeFlows,
    FakePublisher,
    FakePusher,
    FakeSessions,
    FakeWorld,
    ScriptedEndpoint,
)
from tests.identity_fakes import identity_edge
from tests.knowledge_fakes import FakeKnowledgeObjects, FakeKnowledgeStore, HashEmbedder
from tests.minds import mind_deps
from tests.model_fakes import FakeRegistry, FakeStarter
from tests.npc_turns import CONNECTION, MIRA, TOKEN_EXPIRES_AT, turn_deps, virtual_router
from tests.payments_fakes import payments_deps
from tests.platform_fakes import FakeSettingsStore
from tests.protocol_fakes import FakeRequestLedger, FakeResumeTokens
from tests.quest_fakes import FakeQuestStore, FakeSignals
from tests.world_fakes import FakeLore, FakeSubscriptions, FakeWorldState, demo_content

HTTP_API = Api("edgetests", "$default")
WS_API = Api("edgetestsws", "local")
PLAYER = Caller(subject="p1", world_id="demo")
STUDIO = Caller(subject="tools", world_id="demo", roles=(Role.STUDIO,))
ADMIN = Caller(subject="root", world_id="demo", roles=(Role.ADMIN,))
# What only the server may know of Mira: it must never reach a player.
MIRA_SHEET = MIRA.model_copy(
    update={
        "title": "Innkeeper",
        "persona": "PERSONA-SENTINEL: you water down the ale.",
        "speech_style": "STYLE-SENTINEL",
        "secrets": ["SECRET-SENTINEL: the cellar hides a smugglers' tunnel."],
    }
)
PRIVATE_VALUES = ("PERSONA-SENTINEL", "STYLE-SENTINEL", "SECRET-SENTINEL")


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class HttpEdge:
    """Every HTTP handler of the topology over fakes; `call` routes as API Gateway does."""

    world: FakeWorld = field(default_factory=FakeWorld)
    sessions: FakeSessions = field(default_factory=FakeSessions)
    registry: FakeRegistry = field(default_factory=FakeRegistry)
    flows: FakeFlows = field(default_factory=FakeFlows)
    routes: RouteTable[Function] = field(default_factory=lambda: RouteTable(TOPOLOGY.http_routes))
    knowledge: FakeKnowledgeStore = field(default_factory=FakeKnowledgeStore)
    knowledge_objects: FakeKnowledgeObjects = field(default_factory=FakeKnowledgeObjects)
    embedder: HashEmbedder = field(default_factory=HashEmbedder)
    world_state: FakeWorldState = field(default_factory=FakeWorldState)
    lore_uploads: FakeLore = field(default_factory=FakeLore)
    world_time: Clock = now  # the real time the world's clock reads
    world_events: FakePublisher = field(default_factory=FakePublisher)
    narrator: Router = field(default_factory=lambda: virtual_router(ScriptedEndpoint()))
    settings: FakeSettingsStore = field(default_factory=FakeSettingsStore)

    def __post_init__(self) -> None:
        self.world.put_npc(MIRA_SHEET)
        self.world_state.put_definition(WorldDefinition.of(demo_content(), 1))
        gate = Fact(
            key="gate", value="open", version=1, updated_at="2026-01-01T00:00:00.000+00:00", updated_by="s"
        )
        self.world_state.facts["demo"] = {"gate": gate}
        for scope in (GLOBAL_SCOPE, world_scope("demo")):  # settings at version 1, as the gate fact
            self.settings.documents[scope] = StoredSettings(scope=scope, version=1)
        self.clients = SettingsCache(self.settings, ttl_s=0)  # the client policy as a handler reads it
        self.mind = mind_deps(self.world, npcs=())
        self.service = SessionService(self.sessions, FakeColdTier(self.sessions), FakePublisher(), self.flows)
        players = [
            Participant(id="p1", kind=ParticipantKind.PLAYER),
            Participant(id="mira", kind=ParticipantKind.NPC),
        ]
        self.session = self.sessions.create(SessionHead(world_id="demo", participants=players))
        base = KnowledgeBase(self.knowledge, self.knowledge_objects, {self.embedder.name: self.embedder}.get)
        self.lore = LoreService(self.knowledge, self.knowledge_objects, self.flows, base, self.world)
        self.identity = identity_edge()
        self.payments, self.payment_events, _ = payments_deps()

    def client_policy(self) -> ClientPolicy:
        return self.clients.everywhere().clients

    def deps(self, function: str) -> dict[str, Any]:
        clients = self.client_policy  # every API a game client calls admits X-Client-Version against it
        deps: dict[str, dict[str, Any]] = {
            "sessions-api": {"service": self.service, "clients": clients},
            "settings-api": {
                "world": self.world,
                "settings": SettingsDeps(self.settings, self.world_time),
                "payments": self.payments.store,
                "catalog": self.payments.catalog,
            },
            "payments-webhook": {"deps": self.payments},
            "worlds-api": {"world": self.world, "clients": clients},
            "models-api": {"registry": self.registry, "flows": FakeStarter(), "clients": clients},
            "lore-api": {"service": self.lore, "clients": clients},
            "mind-api": {"mind": self.mind, "clients": clients},
            "identity-api": self.identity.handler_deps() | {"clients": clients},
            "quests-api": {
                "quests": QuestDeps(FakeQuestStore(), FakePublisher(), self.flows, FakeSignals()),
                "clients": clients,
            },
            "world-api": {
                "push": PushDeps(self.world_state, self.world, self.lore_uploads),
                "state": StateDeps(self.world_state, time=self.world_time),
                "facts": FactDeps(self.world_state, self.world_events, time=self.world_time),
                "narration": NarrationDeps(self.world_state, self.narrator, time=self.world_time),
                "clients": clients,
            },
        }
        return deps[function]

    def event(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        caller: Caller | None = PLAYER,
        expires_at: int = TOKEN_EXPIRES_AT,
    ) -> tuple[Function, dict[str, Any]]:
        path, _, query = path.partition("?")
        match = self.routes.resolve(method, path)
        assert match is not None, f"no route for {method} {path}"
        request = HttpRequest(
            method=method,
            raw_path=path,
            raw_query=query,
            headers=[("content-type", "application/json"), *(headers or {}).items()],
            source_ip="127.0.0.1",
            domain_name="edge.test",
            body=body,
        )
        context = None if caller is None else {**caller.as_context(), EXPIRES_AT: str(expires_at)}
        return match.target, http_proxy_event(
            HTTP_API, request, match.route_key, match.path_parameters, context
        )

    def call(self, method: str, path: str, **request: Any) -> Reply:
        function, event = self.event(method, path, **request)
        return self.invoke(function, event)

    def invoke(self, function: Function, event: dict[str, Any]) -> Reply:
        handler = Lambdas().module(function).handler
        answer = handler(event, LambdaContext(function.name, 512, 30), **self.deps(function.name))
        return Reply(answer["statusCode"], json.loads(answer["body"]), answer.get("headers") or {})


@dataclass
class WsEdge:
    """The frame handlers over fakes: `send` routes a frame as API Gateway does."""

    endpoint: ScriptedEndpoint = field(default_factory=ScriptedEndpoint)
    caller: Caller = field(default_factory=lambda: PLAYER)  # who opened the connection
    expires_at: int = TOKEN_EXPIRES_AT  # when the token it was opened with expires

    def __post_init__(self) -> None:
        self.turn: TurnDeps = turn_deps(endpoint=self.endpoint)
        self.turn.world.put_npc(MIRA_SHEET)
        self.session_deps = SessionActionDeps(
            service=self.turn.sessions, pusher=self.turn.pusher, resume_tokens=FakeResumeTokens()
        )
        self.subscriptions = FakeSubscriptions()
        self.subscriptions.connect(CONNECTION, self.expires_at)
        definitions = FakeWorldState()
        definitions.put_definition(WorldDefinition.of(demo_content(), 1))
        self.update_deps = UpdateDeps(self.subscriptions, definitions, self.turn.pusher)
        self.connection_deps = ConnectionFrameDeps(self.turn.pusher, FakeResumeTokens(), self.turn.settings)
        self.interrupts = InterruptDeps(self.turn.pusher, self.turn.requests or FakeRequestLedger())

    @property
    def pusher(self) -> FakePusher:
        assert isinstance(self.turn.pusher, FakePusher)
        return self.turn.pusher

    def event(self, data: str | bytes, route_key: str | None = None) -> dict[str, Any]:
        route_key = route_key or select_route_key(data, TOPOLOGY.websocket_route_keys)
        authorizer = {**self.caller.as_context(), EXPIRES_AT: str(self.expires_at)}
        peer = WebSocketPeer(CONNECTION, "edge.test", "127.0.0.1", "pytest", authorizer=authorizer)
        return websocket_message_event(WS_API, peer, route_key, data)

    def deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        """Invoke the route's handler; the frame it answered with (the last one pushed)."""
        route_key = event["requestContext"]["routeKey"]
        function = TOPOLOGY.websocket_route(route_key)
        assert function is not None
        deps: dict[str, dict[str, Any]] = {
            "npc-say": {"deps": self.turn},
            "session-ws": {"deps": self.session_deps},
            "ws-default": {
                "pusher": self.turn.pusher,
                "deps": self.connection_deps,
                "interrupts": self.interrupts,
            },
            "world-push": {"deps": self.update_deps},
        }
        kwargs = deps[function.name]
        before = len(self.pusher.frames)
        result = Lambdas().module(function).handler(event, LambdaContext(function.name, 512, 30), **kwargs)
        assert result == {"statusCode": 200}
        assert len(self.pusher.frames) > before, "the handler answered nothing"
        return self.pusher.frames[-1][1]

    def send(self, data: str | bytes) -> dict[str, Any]:
        return self.deliver(self.event(data))


def mira_is_private(text: str) -> bool:
    """True when none of Mira's private values appear in `text`."""
    return not any(value in text for value in PRIVATE_VALUES)
