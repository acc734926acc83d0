"""The storyteller's director over fakes: a fact change, a weather change or the time sets a beat off;
it is narrated (silver, gold, the scripted line), announced once however often the event comes,
and its fact changes go through the facts' path (which may set off the next beat)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import JsonValue

from aicore.auth import Caller, Role
from aicore.events import EventDetail
from aicore.topology import STORY_BEAT, WORLD_FACT_CHANGED, WORLD_SOURCE
from aicore.world.content import WeatherCondition
from aicore.world.definition import WorldDefinition
from aicore.world.events import StoryBeat, WeatherChanged, WorldEvent, WorldFactChanged, relay
from aicore.world.facts import FactChange, FactDeps, FactWrite, change_fact
from aicore.world.pushes import UpdateDeps, fan_out
from aicore.world.state import Fact
from aicore.world.story import ArcOutcome, StoryDeps, direct, direct_event
from tests.edge_calls import PLAYER, HttpEdge
from tests.fakes import FakePublisher, FakePusher, ScriptedEndpoint
from tests.handlers import invoke
from tests.npc_turns import virtual_router
from tests.world_fakes import FakeSubscriptions, FakeWorldState, demo_content

GAME_SERVER = Caller(subject="gs", world_id="demo", roles=(Role.GAME_SERVER,))
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # the demo world's epoch: 08:00 on day 1, 12 game s per s
MORNING = EPOCH + timedelta(minutes=10)  # 10:00
EVENING = EPOCH + timedelta(minutes=55)  # 19:00


class Wall:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class FlakyState(FakeWorldState):
    """Dies (raises) on its next `fail_fact_writes` fact writes: a director that crashed mid-way."""

    fail_fact_writes: int = 0

    def put_fact(self, *args: Any, **kwargs: Any) -> FactWrite:
        if self.fail_fact_writes:
            self.fail_fact_writes -= 1
            raise RuntimeError("the Lambda died")
        return super().put_fact(*args, **kwargs)


class FailingPublisher(FakePublisher):
    down: bool = True

    def publish(self, source: str, detail_type: str, detail: EventDetail) -> None:
        if self.down:
            raise RuntimeError("PutEvents failed")
        super().publish(source, detail_type, detail)


@dataclass
class Story:
    endpoint: ScriptedEndpoint = field(
        default_factory=lambda: ScriptedEndpoint(tokens=("Wagons ", "turn back."))
    )
    state: FakeWorldState = field(default_factory=FlakyState)
    events: FakePublisher = field(default_factory=FakePublisher)
    wall: Wall = field(default_factory=lambda: Wall(MORNING))
    delivered: int = 0  # events of `events.published` already told to the director

    def __post_init__(self) -> None:
        self.state.put_definition(WorldDefinition.of(demo_content(), 1))
        self.deps = StoryDeps(self.state, self.events, virtual_router(self.endpoint), time=self.wall)

    def put_fact(self, key: str, value: JsonValue, region: str | None = None) -> None:
        current = self.state.fact("demo", key)
        facts = FactDeps(self.state, self.events, time=self.wall)
        change = FactChange(value=value, region=region)
        change_fact(facts, GAME_SERVER, "demo", key, change, current.version if current else 0, "c-1")

    def pump(self) -> list[str]:
        """Deliver what was published to the director, as the bus does, until nothing new comes
        (the beats' fact changes may set off more beats). The Story Beats' event ids."""
        told: list[str] = []
        while self.delivered < len(self.events.published):
            _, detail_type, detail = self.events.published[self.delivered]
            self.delivered += 1
            if detail_type != STORY_BEAT:
                assert isinstance(detail, WorldEvent)
                told += direct_event(self.deps, detail).beats
        return told

    def beats(self) -> list[StoryBeat]:
        return [d for _, t, d in self.events.published if t == STORY_BEAT and isinstance(d, StoryBeat)]

    def fact(self, key: str) -> Fact:
        fact = self.state.fact("demo", key)
        assert fact is not None
        return fact


def test_a_fact_change_sets_off_a_beat_whose_fact_change_sets_off_the_next() -> None:
    # Given the demo world, no beat told yet
    story = Story()
    # When a game server raises the toll on the north pass
    story.put_fact("pass_toll", 3, region="north-pass")
    told = story.pump()
    # Then the toll beat is told, narrated by silver, and its fact change sets the caravans' beat off
    assert told == ["story:pass-toll:toll-raised", "story:pass-toll:caravans-stall"]
    first, second = story.beats()
    assert (first.narration, first.narration_source, first.tier) == ("Wagons turn back.", "model", "silver")
    assert (first.arc_id, first.beat, first.beats, first.region) == ("pass-toll", 1, 4, "north-pass")
    assert (first.day, first.part_of_day, first.season) == (1, "morning", "spring")
    assert first.trigger_id == "fact:pass_toll:1"
    assert second.trigger_id == "fact:caravans_waiting:1"
    waiting = story.fact("caravans_waiting")
    assert (waiting.value, waiting.region, waiting.version, waiting.updated_by) == (
        True,
        "the-roads",
        1,
        "storyteller",
    )
    # And each Story Beat is on the bus from aicore.world, the outbox empty
    assert all(s == WORLD_SOURCE for s, t, _ in story.events.published if t == STORY_BEAT)
    assert story.state.outbox("demo") == []
    # And the arc waits for a storm on the pass now; the other arc never moved
    progress = story.state.arcs["demo"]["pass-toll"]
    assert ([r.beat_id for r in progress.reached], progress.pending) == (
        ["toll-raised", "caravans-stall"],
        [],
    )
    assert "drowned-library" not in story.state.arcs.get("demo", {})
    prompt = story.endpoint.last_messages[-1].content
    assert "Story: The toll on the north pass." in prompt
    assert "Now: Caravans pile up" in prompt
    assert "Before: Wagons turn back." in prompt


def test_the_same_event_twice_advances_once_and_tells_one_beat() -> None:
    # Given the toll raised: its World Fact Changed event
    story = Story()
    story.put_fact("pass_toll", 3, region="north-pass")
    event = story.events.published[0][2]
    assert isinstance(event, WorldFactChanged)
    # When the bus delivers it twice (and a third time after the cascade)
    first, again = direct_event(story.deps, event), direct_event(story.deps, event)
    story.delivered = 1
    story.pump()
    last = direct_event(story.deps, event)
    # Then the arc advanced once for it: one toll beat, one fact change, one model call for it
    assert first.arcs["pass-toll"] is ArcOutcome.ADVANCED
    assert again.arcs["pass-toll"] is ArcOutcome.DUPLICATE
    assert last.arcs["pass-toll"] is ArcOutcome.DUPLICATE
    assert [b.beat_id for b in story.beats()] == ["toll-raised", "caravans-stall"]
    assert story.fact("caravans_waiting").version == 1
    assert len(story.endpoint.calls) == 2


def test_deliveries_racing_each_other_tell_a_beat_once() -> None:
    # Given the toll raised
    story = Story()
    story.put_fact("pass_toll", 5, region="north-pass")
    event = story.events.published[0][2]
    assert isinstance(event, WorldEvent)
    # When eight deliveries of it run at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        reports = list(pool.map(lambda _: direct_event(story.deps, event), range(8)))
    # Then one advanced the arc; the others found it advanced (by this very event)
    outcomes = sorted(r.arcs["pass-toll"].value for r in reports)
    assert outcomes.count("advanced") == 1
    assert set(outcomes) <= {"advanced", "duplicate"}
    assert [b.beat_id for b in story.beats()] == ["toll-raised"]
    assert story.fact("caravans_waiting").version == 1


def test_a_beat_waits_for_its_weather_then_for_its_time_of_day() -> None:
    # Given the first two beats told
    story = Story()
    story.put_fact("pass_toll", 3, region="north-pass")
    story.pump()
    # When fog comes to the pass: nothing; a storm elsewhere: nothing; a storm on the pass: the beat
    assert _weather(story, "north-pass", WeatherCondition.FOG).arcs["pass-toll"] is ArcOutcome.WAITING
    assert _weather(story, "emberfall", WeatherCondition.STORM).arcs["pass-toll"] is ArcOutcome.WAITING
    stormed = _weather(story, "north-pass", WeatherCondition.STORM)
    assert stormed.beats == ["story:pass-toll:storm-on-the-pass"]
    # Then its fact change is made, but the council answers only in the evening
    assert story.pump() == []
    assert story.fact("pass_guarded").value is False
    assert direct(story.deps, "demo", None, "tick").arcs["pass-toll"] is ArcOutcome.WAITING
    # When evening comes and the schedule visits the world (twice: a schedule may fire twice)
    story.wall.at = EVENING
    visit = direct(story.deps, "demo", None, "tick")
    again = direct(story.deps, "demo", None, "tick")
    # Then the last beat is told once, at that game time, and the arc is done
    assert visit.beats == ["story:pass-toll:council-answers"]
    assert visit.trigger_id.startswith("clock:")
    assert again.arcs["pass-toll"] is ArcOutcome.DUPLICATE
    last = story.beats()[-1]
    assert (last.part_of_day, last.beat, last.region) == ("evening", 4, "emberfall")
    assert story.fact("caravans_waiting").value is False
    story.pump()
    story.wall.at = EVENING + timedelta(minutes=1)
    assert direct(story.deps, "demo", None, "later").arcs["pass-toll"] is ArcOutcome.DONE


def _weather(story: Story, region: str, condition: WeatherCondition) -> Any:
    event = WeatherChanged(
        world_id="demo",
        correlation_id="c",
        event_id=f"weather:{region}:{condition.value}",
        region=region,
        hour=10,
        condition=condition,
        previous_condition=WeatherCondition.CLEAR,
        temperature_c=1.0,
        wind_kph=40.0,
        season="spring",
        part_of_day="morning",
    )
    return direct_event(story.deps, event)


@pytest.mark.parametrize(
    ("endpoint", "tier"),
    [
        (ScriptedEndpoint(tokens=("Gold ", "speaks.")), "gold"),  # silver is down
        (ScriptedEndpoint(tokens=()), "scripted"),  # an empty answer
        (ScriptedEndpoint(tokens=("word " * 200,)), "scripted"),  # far too long for a beat
    ],
    ids=["gold-when-silver-cannot", "empty", "too-long"],
)
def test_a_beat_is_told_by_gold_or_its_scripted_line_when_silver_cannot(
    endpoint: ScriptedEndpoint, tier: str
) -> None:
    endpoint.failing = {"silver"} if tier == "gold" else set()
    story = Story(endpoint=endpoint)
    story.put_fact("pass_toll", 3, region="north-pass")
    story.pump()
    beat = story.beats()[0]
    assert beat.tier == tier
    scripted = demo_content().arcs[1].beats[0].narration
    assert (beat.narration == scripted) == (tier == "scripted")
    assert beat.narration_source == ("scripted" if tier == "scripted" else "model")


def test_no_tier_answering_tells_the_scripted_line() -> None:
    story = Story(endpoint=ScriptedEndpoint(failing={"silver", "gold"}))
    story.put_fact("tide", "low", region="lake-shore")
    assert story.pump() == ["story:drowned-library:low-tide"]
    beat = story.beats()[0]
    assert (beat.tier, beat.narration_source) == ("scripted", "scripted")
    assert beat.narration.startswith("The lake draws back")


def test_a_beat_recorded_but_not_sent_is_sent_by_the_schedule_and_its_fact_changes_still_made() -> None:
    # Given the bus down and the director dying at its first fact change
    events = FailingPublisher()
    story = Story(events=events)
    assert isinstance(story.state, FlakyState)
    story.put_fact("pass_toll", 3, region="north-pass")
    event = story.state.outbox("demo")[0].event()
    story.state.fail_fact_writes = 1
    # When the event is delivered: the beat is recorded, its event left in the outbox, then it dies
    with pytest.raises(RuntimeError, match="died"):
        direct_event(story.deps, event)
    assert [e.event_id for e in story.state.outbox("demo")] == [
        "fact:pass_toll:1",
        "story:pass-toll:toll-raised",
    ]
    # When the bus is back, the world's schedule relays the outbox and the event is redelivered
    events.down = False
    relay(events, story.state, "demo", MORNING.timestamp() + 600, older_than_s=120)
    again = direct_event(story.deps, event)
    # Then the Story Beat went out once, the arc did not advance twice, the fact change was made once
    assert again.arcs["pass-toll"] is ArcOutcome.DUPLICATE
    assert [b.beat_id for b in story.beats()] == ["toll-raised"]
    assert story.fact("caravans_waiting").version == 1
    assert story.state.arcs["demo"]["pass-toll"].pending == []
    changed = [d for _, t, d in events.published if t == WORLD_FACT_CHANGED]
    assert [getattr(d, "key", None) for d in changed] == ["pass_toll", "caravans_waiting"]


def test_a_world_without_arcs_or_definition_costs_one_read() -> None:
    story = Story()
    empty = FakeWorldState()
    deps = StoryDeps(empty, story.events, story.deps.router, time=story.wall)
    assert direct(deps, "nowhere", None, "tick").arcs == {}
    assert empty.reads == 1
    story.put_fact("weather_vane", "north", region="emberfall")
    before = story.state.reads
    assert story.pump() == []
    assert story.state.reads == before + 1
    assert story.endpoint.calls == []


def test_the_story_so_far_is_read_by_anyone_of_the_world() -> None:
    # Given two beats told in the edge's world
    edge = HttpEdge(world_time=Wall(MORNING))
    story = Story(state=edge.world_state, events=edge.world_events)
    story.put_fact("pass_toll", 3, region="north-pass")
    story.pump()
    # When a player reads the story
    reply = edge.call("GET", "/worlds/demo/story", caller=PLAYER)
    # Then each arc says where it stands: the beats told (with narration, game time), the next one
    assert reply.status == 200, reply.body
    assert reply.body["operation"] == "world.story.get"
    arcs = {a["arc_id"]: a for a in reply.body["data"]["arcs"]}
    toll = arcs["pass-toll"]
    assert (toll["beats"], toll["completed"], toll["version"]) == (4, False, 3)
    assert toll["current_beat"] == {
        "beat_id": "storm-on-the-pass",
        "title": "The storm empties the watchtower",
        "beat": 3,
    }
    first = toll["reached"][0]
    assert (first["beat_id"], first["narration"], first["source"], first["tier"]) == (
        "toll-raised",
        "Wagons turn back.",
        "model",
        "silver",
    )
    assert first["at"] == {
        "game_time": 10 * 3600,
        "day": 1,
        "hour": 10,
        "minute": 0,
        "part_of_day": "morning",
        "season": "spring",
    }
    library = arcs["drowned-library"]
    assert (library["reached"], library["current_beat"]["beat_id"]) == ([], "low-tide")
    # And what the next beat waits for, or says, is not told
    assert set(library["current_beat"]) == {"beat_id", "title", "beat"}
    assert "wet and shining" not in json.dumps(reply.body)
    # And another world's player, or a world never pushed, gets no story
    other = Caller(subject="p2", world_id="elsewhere")
    assert edge.call("GET", "/worlds/demo/story", caller=other).status == 403
    assert edge.call("GET", "/worlds/elsewhere/story", caller=other).status == 404


def test_a_story_beat_is_pushed_to_subscribers_as_a_world_update() -> None:
    # Given a beat told, and subscribers of the pass, of the lake, of the whole world
    story = Story()
    story.put_fact("pass_toll", 3, region="north-pass")
    story.pump()
    beat = story.beats()[0]
    subscriptions, pusher = FakeSubscriptions(), FakePusher()
    for connection, regions in (("pass", ("north-pass",)), ("lake", ("lake-shore",)), ("all", None)):
        subscriptions.connect(connection)
        subscriptions.subscribe(connection, "demo", regions)
    deps = UpdateDeps(subscriptions, story.state, pusher)
    # When the Story Beat is fanned out (twice: the bus may redeliver it)
    sent, again = fan_out(deps, beat), fan_out(deps, beat)
    # Then the pass's and the world's subscribers get it once, with its narration
    assert (sent.sent, again.sent, again.duplicate) == (2, 0, True)
    assert sorted(c for c, _ in pusher.frames) == ["all", "pass"]
    frame = pusher.frames[0][1]
    assert frame["type"] == "world.update"
    data = frame["data"]
    assert (data["kind"], data["arc_id"], data["beat_id"], data["region"]) == (
        "story_beat",
        "pass-toll",
        "toll-raised",
        "north-pass",
    )
    assert (data["narration"], data["version"], data["event_id"]) == ("Wagons turn back.", 1, beat.event_id)


def test_the_storyteller_handler_takes_world_events_and_the_schedule() -> None:
    # Given the toll raised in a listed world
    story = Story()
    story.state.registry.add("demo")
    story.put_fact("pass_toll", 3, region="north-pass")
    event = story.events.published[0][2]
    bus_event = {
        "detail-type": WORLD_FACT_CHANGED,
        "source": WORLD_SOURCE,
        "detail": event.model_dump(mode="json"),
    }
    # When the bus delivers its event twice, then the schedule fires
    first = invoke("storyteller", bus_event, deps=story.deps)
    again = invoke("storyteller", bus_event, deps=story.deps)
    scheduled = invoke("storyteller", {"schedule": "story-time", "environment": "local"}, deps=story.deps)
    # Then one beat is told, and the schedule's visit looked at the world and told nothing new
    assert (first["beats"], first["arcs"]["pass-toll"]) == (["story:pass-toll:toll-raised"], "advanced")
    assert (again["beats"], again["arcs"]["pass-toll"]) == ([], "duplicate")
    assert scheduled == {"worlds": 1, "beats": []}
