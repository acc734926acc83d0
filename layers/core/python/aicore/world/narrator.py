"""The world-narrator: a region's weather or one of its facts changed, so its narration is refreshed
(through the narration's own cache: no model call while nothing it describes changed) and announced
as `Region Narrated`, which `world-push` fans out to the region's subscribers as `world.update` kind
`narration`.

The event's id is derived from the change's (`narration:<region>:<change event id>`): a redelivered
change announces the same id again, and the fan-out, which claims each id once, pushes it once.
A fact of the whole world is no region's change here: it would ask the model once per region.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from aicore.errors import NotFound
from aicore.events import EventPublisher
from aicore.observability import logger
from aicore.topology import REGION_NARRATED, WORLD_SOURCE
from aicore.world.events import RegionNarrated, WeatherChanged, WorldEvent, WorldFactChanged
from aicore.world.narration import NarrationDeps, region_now


@dataclass
class NarratorDeps:
    narration: NarrationDeps
    events: EventPublisher


class Narrated(BaseModel):
    trigger_id: str
    event_id: str | None  # None: nothing was announced
    outcome: str  # "narrated" | "not_a_region" | "unknown_region"
    cached: bool = False


def narration_event_id(region: str, trigger_id: str) -> str:
    return f"narration:{region}:{trigger_id}"


def narrate_change(deps: NarratorDeps, change: WorldEvent) -> Narrated:
    """Refresh and announce the narration of the region a change concerns."""
    region = change.region if isinstance(change, WeatherChanged | WorldFactChanged) else None
    if region is None:
        return Narrated(trigger_id=change.event_id, event_id=None, outcome="not_a_region")
    try:
        now = region_now(deps.narration, change.world_id, region)
    except NotFound:  # the world or region was removed since: a retry would find it gone as well
        logger.warning(
            "A change of a region the world no longer has",
            extra={"world_id": change.world_id, "region": region, "trigger_id": change.event_id},
        )
        return Narrated(trigger_id=change.event_id, event_id=None, outcome="unknown_region")
    narration = now.narration
    event = RegionNarrated(
        world_id=change.world_id,
        correlation_id=change.correlation_id,
        event_id=narration_event_id(region, change.event_id),
        region=region,
        narration=narration.text,
        narration_source=narration.source,
        tier=narration.tier,
        cached=narration.cached,
        digest=narration.digest,
        version=now.state_version,
        trigger_id=change.event_id,
    )
    deps.events.publish(WORLD_SOURCE, REGION_NARRATED, event)
    return Narrated(
        trigger_id=change.event_id, event_id=event.event_id, outcome="narrated", cached=narration.cached
    )
