"""Events of the world on the bus (source `aicore.world`), and the outbox they wait in.

A change and its event are written in one DynamoDB transaction (the event as an `OUTBOX#` item);
the writer then puts the event on the bus and deletes the item. A writer that dies in between
leaves the item, and the world's schedule puts it on the bus a little later: an event is never
lost, and it is sent twice only if a writer dies between the put and the delete (consumers
deduplicate on `event_id`).
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, JsonValue

from aicore.events import EventDetail, EventPublisher
from aicore.observability import logger
from aicore.topology import REGION_NARRATED, STORY_BEAT, WEATHER_CHANGED, WORLD_FACT_CHANGED, WORLD_SOURCE
from aicore.world.content import WeatherCondition


class WorldEvent(EventDetail):
    event_id: str  # the same for a redelivered or re-sent event: consumers act on it once


class WeatherChanged(WorldEvent):
    """A region's weather condition changed (the schedule noticed)."""

    region: str
    hour: int  # the game hour it changed in (since day 1, 00:00): the weather's version
    condition: WeatherCondition
    previous_condition: WeatherCondition
    temperature_c: float
    wind_kph: float
    season: str
    part_of_day: str


class WorldFactChanged(WorldEvent):
    """A fact changed (over HTTP or from a game server's event)."""

    key: str
    value: JsonValue
    region: str | None = None  # None: the fact concerns the whole world
    version: int
    previous_version: int  # 0: the fact was created
    changed_by: str
    via: str  # "http" | "event"


class StoryBeat(WorldEvent):
    """The storyteller advanced an arc: a beat happened (`event_id` `story:<arc>:<beat>`)."""

    arc_id: str
    arc_title: str
    beat_id: str
    beat_title: str | None = None
    beat: int  # its place in the arc: 1, 2, …
    beats: int  # how many the arc has
    region: str | None = None  # where it happens (None: the whole world)
    narration: str
    narration_source: str  # "model" | "scripted"
    tier: str  # gold | silver | scripted
    game_time: int  # game seconds since day 1, 00:00, when it happened
    day: int
    part_of_day: str
    season: str
    trigger_id: str  # the event that set it off (or `clock:<game minute>` for the schedule)
    version: int  # the arc's progress version once the beat is recorded


class RegionNarrated(WorldEvent):
    """A region's weather or one of its facts changed: its narration as it is now
    (`event_id` `narration:<region>:<the change's event id>`, so a redelivered change names it again)."""

    region: str
    narration: str
    narration_source: str  # "model" | "template"
    tier: str  # gold | silver | scripted (the template)
    cached: bool  # True: nothing it describes changed since it was written (no model call)
    digest: str  # of what it describes: the same digest, the same narration
    version: int  # the world's state version it was read at
    trigger_id: str  # the event of the change


DETAIL_MODELS: dict[str, type[WorldEvent]] = {
    WEATHER_CHANGED: WeatherChanged,
    WORLD_FACT_CHANGED: WorldFactChanged,
    STORY_BEAT: StoryBeat,
    REGION_NARRATED: RegionNarrated,
}


class OutboxEntry(BaseModel):
    """An event written with its change, waiting to be put on the bus."""

    event_id: str
    detail_type: str
    detail: dict[str, JsonValue]
    written_at: float  # unix seconds

    @classmethod
    def of(cls, detail_type: str, event: WorldEvent, written_at: float) -> OutboxEntry:
        return cls(
            event_id=event.event_id,
            detail_type=detail_type,
            detail=event.model_dump(mode="json"),
            written_at=written_at,
        )

    def event(self) -> WorldEvent:
        return DETAIL_MODELS[self.detail_type].model_validate(self.detail)


class OutboxStore(Protocol):
    def outbox(self, world_id: str) -> list[OutboxEntry]:
        """Entries still waiting, oldest first."""
        ...

    def clear_outbox(self, world_id: str, event_id: str) -> None: ...


def send(publisher: EventPublisher, store: OutboxStore, world_id: str, entry: OutboxEntry) -> None:
    """Put the entry's event on the bus, then forget the entry."""
    publisher.publish(WORLD_SOURCE, entry.detail_type, entry.event())
    store.clear_outbox(world_id, entry.event_id)


def send_or_leave(publisher: EventPublisher, store: OutboxStore, world_id: str, entry: OutboxEntry) -> bool:
    """`send`, but a failure only leaves the entry for the schedule: the change is made either way.
    True when the event is on the bus."""
    try:
        send(publisher, store, world_id, entry)
    except Exception:
        logger.exception(
            "Event left in the outbox; the world's schedule sends it", extra={"event_id": entry.event_id}
        )
        return False
    return True


def relay(
    publisher: EventPublisher, store: OutboxStore, world_id: str, now: float, older_than_s: float
) -> int:
    """Send what writers left behind: entries older than any writer still running could be."""
    stale = [e for e in store.outbox(world_id) if now - e.written_at >= older_than_s]
    for entry in stale:
        send(publisher, store, world_id, entry)
    return len(stale)
