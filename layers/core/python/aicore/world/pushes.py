"""Clients are told as the world changes: `world.subscribe`, then `world.update` frames.

A subscription lives on the connection's own item (its world, its regions), indexed by world: it
dies with the connection (`$disconnect` deletes the item, and the item's TTL is the connection's).
A consumer of the world's events fans each one out to the world's subscribers whose regions it
concerns, in parallel. Each event is claimed once before it is sent (a marker per `event_id`), so
a redelivered event sends nothing twice; a subscriber whose connection is gone (410) is forgotten.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from aicore.auth import Caller
from aicore.clock import Clock, now
from aicore.connections import ClientPusher
from aicore.errors import InvalidRequest, NotFound, Unauthorized
from aicore.frames import WorldFrame, WorldSubscribe, WorldUnsubscribe
from aicore.observability import logger
from aicore.world.definition import WorldDefinition
from aicore.world.events import RegionNarrated, StoryBeat, WeatherChanged, WorldEvent, WorldFactChanged

UPDATE_FRAME = "world.update"
REPLY_TYPES = {"world.subscribe": "world.subscribed", "world.unsubscribe": "world.unsubscribed"}
SEND_WORKERS = 8  # pushes in flight at once per fan-out (within botocore's connection pool of 10)
CLAIM_TTL_S = 24 * 3600  # far longer than EventBridge keeps retrying an event


class Subscription(BaseModel):
    connection_id: str
    world_id: str
    regions: tuple[str, ...] | None  # None: the whole world
    expires_at: int  # the connection's token expiry: no push after it
    encoding: str = "json"  # the connection's frame encoding

    def wants(self, region: str | None) -> bool:
        return self.regions is None or region is None or region in self.regions


class SubscriptionStore(Protocol):
    def subscribe(self, connection_id: str, world_id: str, regions: tuple[str, ...] | None) -> bool:
        """Record the subscription on the connection's item; False when the connection is gone."""
        ...

    def unsubscribe(self, connection_id: str) -> None: ...
    def subscribers(self, world_id: str) -> list[Subscription]: ...
    def claim(self, event_id: str, expires_at: int) -> bool:
        """True the first time an event is claimed for sending, False ever after."""
        ...

    def forget(self, connection_id: str) -> None:
        """A connection that is gone (its item outlived it)."""
        ...


class Definitions(Protocol):
    def definition(self, world_id: str) -> WorldDefinition | None: ...


@dataclass
class UpdateDeps:
    subscriptions: SubscriptionStore
    definitions: Definitions
    pusher: ClientPusher
    time: Clock = now


class Subscribed(BaseModel):
    world_id: str
    regions: tuple[str, ...] | None


class Unsubscribed(BaseModel):
    world_id: str


def answer_world_frame(deps: UpdateDeps, frame: WorldFrame, caller: Caller, connection_id: str) -> BaseModel:
    match frame:
        case WorldSubscribe():
            return subscribe(deps, caller, connection_id, frame)
        case WorldUnsubscribe():
            deps.subscriptions.unsubscribe(connection_id)
            return Unsubscribed(world_id=caller.world_id)


def subscribe(deps: UpdateDeps, caller: Caller, connection_id: str, frame: WorldSubscribe) -> Subscribed:
    """Subscribe the connection to its token's world (to some of its regions, or all)."""
    world_id = caller.world_id
    definition = deps.definitions.definition(world_id)
    if definition is None:
        raise NotFound(
            f"There is no world '{world_id}' here yet: nothing to subscribe to.", {"world_id": world_id}
        )
    regions = tuple(dict.fromkeys(frame.regions)) if frame.regions else None
    unknown = [r for r in regions or () if definition.region(r) is None]
    if unknown:
        raise InvalidRequest(
            f"World '{world_id}' has no region {', '.join(repr(r) for r in unknown[:5])}: "
            f"its regions are {', '.join(definition.region_ids)}.",
            {"fields": [{"field": "regions", "problem": "not a region of this world"}]},
        )
    if not deps.subscriptions.subscribe(connection_id, world_id, regions):
        raise Unauthorized("This connection is not registered: reconnect, then subscribe.")
    return Subscribed(world_id=world_id, regions=regions)


class FanOut(BaseModel):
    event_id: str
    sent: int  # frames pushed
    gone: int  # subscribers whose connection was gone (forgotten)
    failed: int  # pushes that failed otherwise (logged)
    duplicate: bool  # the event was sent before: nothing was sent now


def fan_out(deps: UpdateDeps, event: WorldEvent) -> FanOut:
    """Push the event's `world.update` frame to each subscriber it concerns, once per event."""
    update = update_frame(event)
    real = deps.time().timestamp()
    if not deps.subscriptions.claim(f"{event.world_id}#{event.event_id}", int(real) + CLAIM_TTL_S):
        return FanOut(event_id=event.event_id, sent=0, gone=0, failed=0, duplicate=True)
    region = update["data"].get("region")
    targets = [
        s for s in deps.subscriptions.subscribers(event.world_id) if s.wants(region) and s.expires_at > real
    ]
    with ThreadPoolExecutor(max_workers=SEND_WORKERS) as pool:
        outcomes = list(pool.map(lambda s: _push(deps, s, update), targets))
    return FanOut(
        event_id=event.event_id,
        sent=outcomes.count("sent"),
        gone=outcomes.count("gone"),
        failed=outcomes.count("failed"),
        duplicate=False,
    )


def _push(deps: UpdateDeps, subscription: Subscription, frame: dict[str, Any]) -> str:
    try:
        deps.pusher.speaks(subscription.connection_id, subscription.encoding)
        if deps.pusher.send(subscription.connection_id, frame):
            return "sent"
        deps.subscriptions.forget(subscription.connection_id)
        return "gone"
    except Exception:  # one client's failure never stops the others' pushes
        logger.exception(
            "A world update could not be pushed", extra={"connection_id": subscription.connection_id}
        )
        return "failed"


def update_frame(event: WorldEvent) -> dict[str, Any]:
    """The `world.update` frame of an event: `data.kind` says what changed."""
    common: dict[str, Any] = {
        "world_id": event.world_id,
        "event_id": event.event_id,
        "occurred_at": event.occurred_at,
    }
    match event:
        case WeatherChanged():
            data = {
                "kind": "weather",
                **common,
                "region": event.region,
                "version": event.hour,
                **event.model_dump(
                    mode="json",
                    include={
                        "hour",
                        "condition",
                        "previous_condition",
                        "temperature_c",
                        "wind_kph",
                        "season",
                        "part_of_day",
                    },
                ),
            }
        case WorldFactChanged():
            data = {
                "kind": "fact",
                **common,
                **({"region": event.region} if event.region else {}),
                **event.model_dump(mode="json", include={"key", "value", "version", "previous_version"}),
            }
        case StoryBeat():
            data = {
                "kind": "story_beat",
                **common,
                **({"region": event.region} if event.region else {}),
                **event.model_dump(
                    mode="json",
                    include={
                        "version",
                        "arc_id",
                        "arc_title",
                        "beat_id",
                        "beat_title",
                        "beat",
                        "beats",
                        "narration",
                        "narration_source",
                        "day",
                        "part_of_day",
                        "season",
                    },
                ),
            }
        case RegionNarrated():
            data = {
                "kind": "narration",
                **common,
                "region": event.region,
                **event.model_dump(mode="json", include={"version", "narration", "narration_source"}),
            }
        case _:
            raise TypeError(f"no world.update frame for {type(event).__name__}")
    return {"type": UPDATE_FRAME, "data": data}


def reply_type(route_key: str, replies: Mapping[str, str] = REPLY_TYPES) -> str:
    return replies.get(route_key, "error")
