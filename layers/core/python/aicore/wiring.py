"""Production wiring: the adapters every handler uses, created once per cold start from settings."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from aicore.settings import get_settings

# Each adapter is imported where it is built: a handler's cold start pays only for what it uses.
if TYPE_CHECKING:
    from aicore.connections import ApiGatewayPusher, DynamoConnectionStore
    from aicore.events import EventBridgePublisher
    from aicore.models.router import Router
    from aicore.npc.turn import LoreCache, TurnDeps
    from aicore.sessions.store import DynamoSessionStore
    from aicore.world.store import DynamoWorldStore


@lru_cache(maxsize=1)
def connections() -> DynamoConnectionStore:
    from aicore.connections import DynamoConnectionStore

    return DynamoConnectionStore(get_settings().connections_table)


@lru_cache(maxsize=1)
def sessions() -> DynamoSessionStore:
    from aicore.sessions.store import DynamoSessionStore

    return DynamoSessionStore(get_settings().sessions_table)


@lru_cache(maxsize=1)
def world() -> DynamoWorldStore:
    from aicore.world.store import DynamoWorldStore

    return DynamoWorldStore(get_settings().world_table)


@lru_cache(maxsize=1)
def pusher() -> ApiGatewayPusher:
    from aicore.connections import ApiGatewayPusher

    url = get_settings().connections_url
    if not url:
        raise RuntimeError("CONNECTIONS_URL is not set: this function cannot push to clients.")
    return ApiGatewayPusher(url)


@lru_cache(maxsize=1)
def router() -> Router:
    from aicore.models.endpoint import SageMakerEndpoint
    from aicore.models.router import Router, Tier

    settings = get_settings()
    return Router(SageMakerEndpoint(), {tier: settings.endpoint_for(tier) for tier in Tier})


@lru_cache(maxsize=1)
def events() -> EventBridgePublisher:
    from aicore.events import EventBridgePublisher

    return EventBridgePublisher(get_settings().event_bus_name)


@lru_cache(maxsize=1)
def lore() -> LoreCache:
    from aicore.npc.turn import LoreCache

    return LoreCache(world())


def turn_deps() -> TurnDeps:
    from aicore.npc.turn import TurnDeps

    return TurnDeps(
        connections=connections(),
        world=world(),
        lore=lore(),
        sessions=sessions(),
        router=router(),
        pusher=pusher(),
        events=events(),
    )
