"""World state facts: a JSON value under a key, of the whole world or of one region, versioned.

A change names the version it was made from (`If-Match`; 0 creates the fact): a stale writer gets
a conflict with the current version, never a silent overwrite. An accepted change, the fact's
history entry, its `World Fact Changed` event (an outbox entry) and the world's state version are
one DynamoDB transaction; the event goes on the bus right after (see `aicore.world.events`).
Game servers change facts over HTTP (role `game_server`) or by putting a `World Fact Change
Requested` event on the bus, applied once per `request_id`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from aicore.auth import Caller, Role
from aicore.clock import Clock, now, stamp
from aicore.errors import Conflict, Forbidden, InvalidRequest, NotFound, PayloadTooLarge
from aicore.events import EventDetail, EventPublisher
from aicore.inputs import Identifier
from aicore.observability import logger
from aicore.topology import WORLD_FACT_CHANGE_REJECTED, WORLD_FACT_CHANGED, WORLD_SOURCE
from aicore.world.definition import WorldDefinition
from aicore.world.events import OutboxEntry, WorldFactChanged, send_or_leave
from aicore.world.state import Fact, WorldStateStore, require_definition

FACT_WRITERS = (Role.STUDIO, Role.GAME_SERVER, Role.ADMIN)
MAX_VALUE_BYTES = 16 * 1024  # a fact is state, not a document: the whole world's facts are read at once
CONTENDED_ATTEMPTS = 4  # transactions that collided with another on the world's state version


class FactChange(BaseModel):
    """`PUT /worlds/{world}/facts/{key}`: the new value (any JSON, null too) and, optionally, the
    region it concerns (none: the whole world)."""

    model_config = ConfigDict(extra="forbid")

    value: JsonValue
    region: Identifier | None = None


class WriteOutcome(StrEnum):
    WRITTEN = "written"
    STALE = "stale"  # the fact is not at the expected version (`current_version` says where it is)
    DUPLICATE = "duplicate"  # this request was applied before (events are redelivered)
    CONTENDED = "contended"  # another transaction on the world's state was in flight: try again


@dataclass(frozen=True)
class FactWrite:
    outcome: WriteOutcome
    current_version: int = 0


class FactStore(WorldStateStore, Protocol):
    def fact(self, world_id: str, key: str) -> Fact | None: ...
    def fact_at(self, world_id: str, key: str, version: int) -> Fact | None: ...
    def put_fact(
        self, world_id: str, fact: Fact, expected_version: int, entry: OutboxEntry, request_id: str | None
    ) -> FactWrite:
        """In one transaction: the fact if still at `expected_version` (0: absent), its history
        entry, the event's outbox entry, the world's state version +1, and `request_id`'s marker if
        given (a request seen before is a DUPLICATE)."""
        ...


@dataclass
class FactDeps:
    store: FactStore
    events: EventPublisher
    time: Clock = now


class FactWritten(Fact):
    world_id: str


def change_fact(
    deps: FactDeps,
    caller: Caller,
    world_id: str,
    key: str,
    change: FactChange,
    expected_version: int,
    correlation_id: str,
) -> FactWritten:
    """`PUT /worlds/{world}/facts/{key}` with `If-Match: <expected_version>`."""
    if not caller.has_any(*FACT_WRITERS):
        raise Forbidden("Only the world's studio, its game servers (or an admin) change its facts.")
    caller.require_world(world_id)
    written, fact = _write(
        deps, world_id, key, change, expected_version, caller.subject, correlation_id, None
    )
    if written.outcome is WriteOutcome.STALE:
        raise Conflict(
            f"Fact '{key}' is at version {written.current_version}, not {expected_version}: read it, "
            "then change it with If-Match: <its version>.",
            {"key": key, "current_version": written.current_version},
        )
    return FactWritten(world_id=world_id, **fact.model_dump())


def _write(
    deps: FactDeps,
    world_id: str,
    key: str,
    change: FactChange,
    expected_version: int,
    by: str,
    correlation_id: str,
    request_id: str | None,
    via: str = "http",
) -> tuple[FactWrite, Fact]:
    definition = require_definition(deps.store, world_id)
    _check(definition, change)
    for _ in range(CONTENDED_ATTEMPTS):
        moment = deps.time()
        fact = Fact(
            key=key,
            value=change.value,
            version=expected_version + 1,
            region=change.region,
            updated_at=stamp(moment),
            updated_by=by,
        )
        event = WorldFactChanged(
            world_id=world_id,
            correlation_id=correlation_id,
            event_id=f"fact:{key}:{fact.version}",
            key=key,
            value=change.value,
            region=change.region,
            version=fact.version,
            previous_version=expected_version,
            changed_by=by,
            via=via,
        )
        entry = OutboxEntry.of(WORLD_FACT_CHANGED, event, moment.timestamp())
        written = deps.store.put_fact(world_id, fact, expected_version, entry, request_id)
        if written.outcome is WriteOutcome.WRITTEN:
            send_or_leave(deps.events, deps.store, world_id, entry)
        if written.outcome is not WriteOutcome.CONTENDED:
            return written, fact
    raise Conflict("The world's state is changing too fast to write this now: try again in a moment.")


def _check(definition: WorldDefinition, change: FactChange) -> None:
    if change.region is not None and definition.region(change.region) is None:
        raise InvalidRequest(
            f"World '{definition.world_id}' has no region '{change.region}'.",
            {"fields": [{"field": "region", "problem": "not a region of this world"}]},
        )
    size = len(json.dumps(change.value, separators=(",", ":")).encode())
    if size > MAX_VALUE_BYTES:
        raise PayloadTooLarge(
            f"A fact's value is at most {MAX_VALUE_BYTES // 1024} KB of JSON: keep documents in the lore.",
            {"max_bytes": MAX_VALUE_BYTES},
        )


def read_fact(store: FactStore, caller: Caller, world_id: str, key: str, version: int | None) -> Fact:
    """`GET /worlds/{world}/facts/{key}[?version=N]`: the fact now, or as it was at a version."""
    caller.require_world(world_id)
    found = store.fact(world_id, key) if version is None else store.fact_at(world_id, key, version)
    if found is None:
        at = "" if version is None else f" at version {version}"
        raise NotFound(f"World '{world_id}' has no fact '{key}'{at}.", {"key": key})
    return found


class FactChangeRequested(EventDetail):
    """`World Fact Change Requested` (source `aicore.game`): a game server changes a fact through the
    bus. Without `expected_version` the change applies to whatever version is there."""

    model_config = ConfigDict(extra="forbid")

    request_id: Identifier  # applied once, however often the event is delivered
    key: Identifier
    value: JsonValue
    region: Identifier | None = None
    expected_version: int | None = Field(None, ge=0)
    game_server: str = Field("game-server", min_length=1, max_length=128)


class FactChangeRejected(EventDetail):
    """`World Fact Change Rejected`: a requested change was made from a stale version."""

    request_id: str
    key: str
    expected_version: int
    current_version: int


INVALID = "invalid"  # a request that can never apply (no such world or region, too large): not retried


def apply_requested_change(deps: FactDeps, request: FactChangeRequested) -> str:
    """A game server's change from the bus: once per request id; a stale one is rejected (an event);
    one that can never apply is logged and dropped (retrying it would change nothing)."""
    try:
        return _apply_requested(deps, request).value
    except (NotFound, InvalidRequest, PayloadTooLarge) as refused:
        logger.warning(
            "Requested fact change refused", extra={"key": request.key, "problem": refused.message}
        )
        return INVALID


def _apply_requested(deps: FactDeps, request: FactChangeRequested) -> WriteOutcome:
    change = FactChange(value=request.value, region=request.region)
    for _ in range(CONTENDED_ATTEMPTS):
        expected = request.expected_version
        if expected is None:
            current = deps.store.fact(request.world_id, request.key)
            expected = current.version if current else 0
        written, _ = _write(
            deps,
            request.world_id,
            request.key,
            change,
            expected,
            request.game_server,
            request.correlation_id,
            request.request_id,
            via="event",
        )
        if written.outcome is not WriteOutcome.STALE or request.expected_version is not None:
            break  # a blind change that lost a race reads the fact again
    if written.outcome is WriteOutcome.STALE:
        rejected = FactChangeRejected(
            world_id=request.world_id,
            correlation_id=request.correlation_id,
            request_id=request.request_id,
            key=request.key,
            expected_version=expected,
            current_version=written.current_version,
        )
        deps.events.publish(WORLD_SOURCE, WORLD_FACT_CHANGE_REJECTED, rejected)
    logger.info("Requested fact change", extra={"key": request.key, "outcome": written.outcome.value})
    return written.outcome
