"""The world-narrator: a region's weather or fact change refreshes its narration (through the cache)
and announces it; world-push fans it out as `world.update` kind `narration` to the region's
subscribers, once however often the change is delivered."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aicore.topology import REGION_NARRATED, WEATHER_CHANGED, WORLD_FACT_CHANGED, WORLD_SOURCE
from aicore.world.content import WeatherCondition
from aicore.world.definition import WorldDefinition
from aicore.world.events import RegionNarrated, WeatherChanged, WorldEvent, WorldFactChanged
from aicore.world.narration import NarrationDeps
from aicore.world.narrator import NarratorDeps
from aicore.world.pushes import UpdateDeps
from aicore.world.state import Fact
from tests.fakes import FakePublisher, FakePusher, ScriptedEndpoint
from tests.handlers import invoke
from tests.npc_turns import virtual_router
from tests.world_fakes import FakeSubscriptions, FakeWorldState, demo_content

AT = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)


class World:
    """The demo world with a model behind the router, a bus that records, and three subscribers:
    one of the whole world, one of Emberfall, one of the lake shore."""

    def __init__(self, with_model: bool = True) -> None:
        self.state = FakeWorldState()
        self.state.put_definition(WorldDefinition.of(demo_content(), 1))
        self.endpoint = ScriptedEndpoint(tokens=("Smoke ", "curls ", "over the forge."))
        self.events = FakePublisher()
        narration = NarrationDeps(
            store=self.state,
            router=virtual_router(self.endpoint),
            time=lambda: AT,
            write_with_model=with_model,
        )
        self.narrator = NarratorDeps(narration=narration, events=self.events)
        self.subscriptions, self.pusher = FakeSubscriptions(), FakePusher()
        for connection, regions in (("all", None), ("ember", ("emberfall",)), ("lake", ("lake-shore",))):
            self.subscriptions.connect(connection)
            self.subscriptions.subscribe(connection, "demo", regions)
        self.push = UpdateDeps(self.subscriptions, self.state, self.pusher)

    def narrate(self, change: WorldEvent, detail_type: str = WEATHER_CHANGED) -> dict[str, Any]:
        bus_event = {
            "detail-type": detail_type,
            "source": WORLD_SOURCE,
            "detail": change.model_dump(mode="json"),
        }
        result: dict[str, Any] = invoke("world-narrator", bus_event, deps=self.narrator)
        return result

    def announced(self) -> list[RegionNarrated]:
        return [
            e for _, t, e in self.events.published if t == REGION_NARRATED and isinstance(e, RegionNarrated)
        ]

    def deliver_announcements(self) -> None:
        """world-push's rule delivers each announcement (as the bus does, duplicates included)."""
        for event in self.announced():
            bus_event = {"detail-type": REGION_NARRATED, "source": WORLD_SOURCE, "detail": event.model_dump()}
            invoke("world-push", bus_event, deps=self.push)

    def narration_frames(self) -> list[tuple[str, dict[str, Any]]]:
        return [(c, f["data"]) for c, f in self.pusher.frames if f["data"]["kind"] == "narration"]


def _weather(region: str = "emberfall", hour: int = 100) -> WeatherChanged:
    return WeatherChanged(
        world_id="demo", correlation_id="c", event_id=f"weather:{region}:{hour}", region=region, hour=hour,
        condition=WeatherCondition.STORM, previous_condition=WeatherCondition.RAIN, temperature_c=3.5,
        wind_kph=51.2, season="spring", part_of_day="night",
    )  # fmt: skip


def _fact(region: str | None) -> WorldFactChanged:
    return WorldFactChanged(
        world_id="demo", correlation_id="c", event_id="fact:gate:1", key="gate", value=True, region=region,
        version=1, previous_version=0, changed_by="gs", via="http",
    )  # fmt: skip


def test_a_redelivered_change_is_narrated_once_and_pushed_once_to_the_region_s_subscribers() -> None:
    world = World()
    # When Emberfall's weather change reaches the narrator twice (EventBridge delivers at least once)
    first, again = world.narrate(_weather()), world.narrate(_weather())
    world.deliver_announcements()
    # Then the model wrote the narration once; both deliveries announced the same event id
    assert world.endpoint.calls == ["silver"]
    assert (first["outcome"], first["cached"], again["cached"]) == ("narrated", False, True)
    assert first["event_id"] == again["event_id"] == "narration:emberfall:weather:emberfall:100"
    assert len(world.announced()) == 2
    # And the whole world's and Emberfall's subscribers got one frame each; the lake shore's none
    frames = world.narration_frames()
    assert sorted(c for c, _ in frames) == ["all", "ember"]
    data = frames[0][1]
    assert data == {
        "kind": "narration",
        "world_id": "demo",
        "event_id": "narration:emberfall:weather:emberfall:100",
        "occurred_at": data["occurred_at"],
        "region": "emberfall",
        "version": 0,
        "narration": "Smoke curls over the forge.",
        "narration_source": "model",
    }


def test_a_change_that_leaves_what_the_narration_describes_as_it_was_costs_no_model_call() -> None:
    world = World()
    world.narrate(_weather(hour=100))
    # When another change of Emberfall arrives while its time, weather and facts read the same
    later = world.narrate(_weather(hour=101))
    # Then the cached narration is announced under the new change's id, without a model call
    assert world.endpoint.calls == ["silver"]
    assert later["cached"] is True
    announced = world.announced()
    assert [e.event_id for e in announced] == [
        "narration:emberfall:weather:emberfall:100",
        "narration:emberfall:weather:emberfall:101",
    ]
    assert announced[0].digest == announced[1].digest
    assert announced[1].narration == announced[0].narration


def test_a_fact_of_a_region_is_narrated_and_one_of_the_whole_world_or_of_no_region_is_not() -> None:
    world = World()
    # Given the lake shore's gate was shut (a fact of the region, version 1)
    gate = Fact(key="gate", value=True, version=1, region="lake-shore", updated_at="t", updated_by="gs")
    world.state.facts["demo"] = {"gate": gate}
    # When its change reaches the narrator, then one of the whole world, then one of a removed region
    lake = world.narrate(_fact("lake-shore"), WORLD_FACT_CHANGED)
    everywhere = world.narrate(_fact(None), WORLD_FACT_CHANGED)
    gone = world.narrate(_fact("atlantis"), WORLD_FACT_CHANGED)
    world.deliver_announcements()
    # Then only the lake shore is narrated (with the new fact in the notes), and pushed to its own
    outcomes = (lake["outcome"], everywhere["outcome"], gone["outcome"])
    assert outcomes == ("narrated", "not_a_region", "unknown_region")
    assert "True now: gate = true" in world.endpoint.last_messages[-1].content
    assert [e.region for e in world.announced()] == ["lake-shore"]
    assert sorted(c for c, _ in world.narration_frames()) == ["all", "lake"]


def test_narration_from_templates_asks_no_model_and_leaves_the_cache_to_the_model() -> None:
    # Given WORLD_NARRATOR=template
    world = World(with_model=False)
    # When Emberfall's weather changes
    result = world.narrate(_weather())
    # Then the templates wrote it, the model was never asked, and nothing was cached for HTTP reads
    assert world.endpoint.calls == []
    (event,) = world.announced()
    assert (event.narration_source, event.tier, result["cached"]) == ("template", "scripted", False)
    assert "Emberfall" in event.narration
    assert world.state.narrations == {}
