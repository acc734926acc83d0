"""Fakes of the world's stores, for unit tests (the DynamoDB adapters are tested against moto)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from aicore.auth import Caller
from aicore.knowledge.models import NewDocument
from aicore.local.world_files import load_world_folder
from aicore.local.world_push import DEMO_WORLD
from aicore.world.arcs import ArcProgress
from aicore.world.clock import ClockState
from aicore.world.content import QuestTemplateSpec, WorldContent
from aicore.world.definition import WorldDefinition
from aicore.world.events import OutboxEntry
from aicore.world.facts import FactWrite, WriteOutcome
from aicore.world.narration import CachedNarration
from aicore.world.push import ContentManifest
from aicore.world.pushes import Subscription
from aicore.world.state import Fact, StoredState, WeatherRecord


@dataclass(frozen=True)
class Uploaded:
    document_id: str


@dataclass
class FakeLore:
    """`LoreService.submit` as a push sees it: each upload recorded with its key."""

    uploads: list[tuple[str, NewDocument, str | None]] = field(default_factory=list)

    def submit(
        self, caller: Caller, world_id: str, new: NewDocument, idempotency_key: str | None
    ) -> Uploaded:
        self.uploads.append((world_id, new, idempotency_key))
        return Uploaded(document_id=f"doc-{len(self.uploads)}")


@dataclass
class FakeWorldState:
    """The world's content and state items in memory (`DynamoWorldState`'s contract)."""

    manifests: dict[str, ContentManifest] = field(default_factory=dict)
    definitions: dict[str, WorldDefinition] = field(default_factory=dict)
    deleted: list[tuple[str, str]] = field(default_factory=list)
    registry: set[str] = field(default_factory=set)
    races_lost: int = 0  # the next pushes to record find another push was recorded first
    clocks: dict[str, ClockState] = field(default_factory=dict)
    state_versions: dict[str, int] = field(default_factory=dict)
    facts: dict[str, dict[str, Fact]] = field(default_factory=dict)
    weather: dict[str, dict[str, WeatherRecord]] = field(default_factory=dict)
    outboxes: dict[str, dict[str, OutboxEntry]] = field(default_factory=dict)
    history: dict[tuple[str, str, int], Fact] = field(default_factory=dict)
    requests: set[tuple[str, str]] = field(default_factory=set)
    narrations: dict[tuple[str, str], CachedNarration] = field(default_factory=dict)
    arcs: dict[str, dict[str, ArcProgress]] = field(default_factory=dict)
    quest_templates_by_world: dict[str, dict[str, QuestTemplateSpec]] = field(default_factory=dict)
    reads: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)  # a transaction is atomic

    def manifest(self, world_id: str) -> ContentManifest | None:
        return self.manifests.get(world_id)

    def put_definition(self, definition: WorldDefinition) -> None:
        self.definitions[definition.world_id] = definition

    def definition(self, world_id: str) -> WorldDefinition | None:
        return self.definitions.get(world_id)

    def delete_npc(self, world_id: str, npc_id: str) -> None:
        self.deleted.append((world_id, f"npc:{npc_id}"))

    def delete_lore(self, world_id: str, fact_id: str) -> None:
        self.deleted.append((world_id, f"lore:{fact_id}"))

    def put_quest_template(self, world_id: str, template: QuestTemplateSpec) -> None:
        self.quest_templates_by_world.setdefault(world_id, {})[template.template_id] = template

    def delete_quest_template(self, world_id: str, template_id: str) -> None:
        self.quest_templates_by_world.get(world_id, {}).pop(template_id, None)
        self.deleted.append((world_id, f"quest:{template_id}"))

    def quest_templates(self, world_id: str) -> list[QuestTemplateSpec]:
        return list(self.quest_templates_by_world.get(world_id, {}).values())

    def record_push(self, manifest: ContentManifest, expected_version: int) -> bool:
        current = self.manifests.get(manifest.world_id)
        if self.races_lost:
            self.races_lost -= 1
            return False
        if (current.version if current else 0) != expected_version:
            return False
        self.manifests[manifest.world_id] = manifest
        self.registry.add(manifest.world_id)
        return True

    def worlds(self) -> list[str]:
        return sorted(self.registry)

    def clock(self, world_id: str) -> ClockState | None:
        return self.clocks.get(world_id)

    def put_clock(self, world_id: str, clock: ClockState, expected_version: int) -> bool:
        current = self.clocks.get(world_id)
        if (current.version if current else 0) != expected_version:
            return False
        self.clocks[world_id] = clock
        self._next_state_version(world_id)
        return True

    def state(self, world_id: str) -> StoredState:
        self.reads += 1
        return StoredState(
            definition=self.definitions.get(world_id),
            clock=self.clocks.get(world_id),
            version=self.state_versions.get(world_id, 0),
            facts=dict(self.facts.get(world_id, {})),
            weather=dict(self.weather.get(world_id, {})),
            arcs=dict(self.arcs.get(world_id, {})),
        )

    def record_weather(
        self, world_id: str, record: WeatherRecord, expected_hour: int | None, entry: OutboxEntry | None
    ) -> bool:
        regions = self.weather.setdefault(world_id, {})
        current = regions.get(record.region)
        if (current.hour if current else None) != expected_hour:
            return False
        regions[record.region] = record
        if entry is not None:
            self.outboxes.setdefault(world_id, {})[entry.event_id] = entry
            self._next_state_version(world_id)
        return True

    def fact(self, world_id: str, key: str) -> Fact | None:
        return self.facts.get(world_id, {}).get(key)

    def fact_at(self, world_id: str, key: str, version: int) -> Fact | None:
        return self.history.get((world_id, key, version))

    def put_fact(
        self, world_id: str, fact: Fact, expected_version: int, entry: OutboxEntry, request_id: str | None
    ) -> FactWrite:
        with self.lock:
            if request_id is not None and (world_id, request_id) in self.requests:
                return FactWrite(WriteOutcome.DUPLICATE)
            current = self.facts.get(world_id, {}).get(fact.key)
            if (current.version if current else 0) != expected_version:
                return FactWrite(WriteOutcome.STALE, current.version if current else 0)
            self.facts.setdefault(world_id, {})[fact.key] = fact
            self.history[(world_id, fact.key, fact.version)] = fact
            self.outboxes.setdefault(world_id, {})[entry.event_id] = entry
            self._next_state_version(world_id)
            if request_id is not None:
                self.requests.add((world_id, request_id))
            return FactWrite(WriteOutcome.WRITTEN)

    def advance_arc(
        self, world_id: str, progress: ArcProgress, expected_version: int, entry: OutboxEntry
    ) -> bool:
        with self.lock:
            if not self.settle_arc(world_id, progress, expected_version):
                return False
            self.outboxes.setdefault(world_id, {})[entry.event_id] = entry
            return True

    def settle_arc(self, world_id: str, progress: ArcProgress, expected_version: int) -> bool:
        arcs = self.arcs.setdefault(world_id, {})
        current = arcs.get(progress.arc_id)
        if (current.version if current else 0) != expected_version:
            return False
        arcs[progress.arc_id] = progress
        return True

    def narration(self, world_id: str, region_id: str) -> CachedNarration | None:
        return self.narrations.get((world_id, region_id))

    def put_narration(self, world_id: str, region_id: str, narration: CachedNarration) -> None:
        self.narrations[(world_id, region_id)] = narration

    def outbox(self, world_id: str) -> list[OutboxEntry]:
        return sorted(self.outboxes.get(world_id, {}).values(), key=lambda e: e.written_at)

    def clear_outbox(self, world_id: str, event_id: str) -> None:
        with self.lock:
            self.outboxes.get(world_id, {}).pop(event_id, None)

    def _next_state_version(self, world_id: str) -> None:
        self.state_versions[world_id] = self.state_versions.get(world_id, 0) + 1


_DEMO: WorldContent | None = None


def demo_content() -> WorldContent:
    """`worlds/demo`, read once per test session."""
    global _DEMO
    if _DEMO is None:
        _DEMO = load_world_folder(DEMO_WORLD)
    return _DEMO


@dataclass
class FakeSubscriptions:
    """World subscriptions on connection items, in memory (`DynamoSubscriptions`' contract)."""

    live: dict[str, int] = field(default_factory=dict)  # connection id -> its token's expiry
    subscribed: dict[str, tuple[str, tuple[str, ...] | None]] = field(default_factory=dict)
    claims: set[str] = field(default_factory=set)
    forgotten: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def connect(self, connection_id: str, expires_at: int = 2**31) -> None:
        self.live[connection_id] = expires_at

    def disconnect(self, connection_id: str) -> None:
        """`$disconnect` deletes the connection's item, and its subscription with it."""
        self.live.pop(connection_id, None)
        self.subscribed.pop(connection_id, None)

    def subscribe(self, connection_id: str, world_id: str, regions: tuple[str, ...] | None) -> bool:
        if connection_id not in self.live:
            return False
        self.subscribed[connection_id] = (world_id, regions)
        return True

    def unsubscribe(self, connection_id: str) -> None:
        self.subscribed.pop(connection_id, None)

    def subscribers(self, world_id: str) -> list[Subscription]:
        return [
            Subscription(connection_id=c, world_id=w, regions=r, expires_at=self.live[c])
            for c, (w, r) in self.subscribed.items()
            if w == world_id
        ]

    def claim(self, event_id: str, expires_at: int) -> bool:
        with self.lock:
            if event_id in self.claims:
                return False
            self.claims.add(event_id)
            return True

    def forget(self, connection_id: str) -> None:
        with self.lock:
            self.forgotten.append(connection_id)
            self.disconnect(connection_id)
