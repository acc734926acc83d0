"""The storyteller end to end on the local runtime: a fact change through the gateway sets off a beat
(and its fact change the next), narrated by the local model or its scripted line, that reaches a
subscribed WebSocket client; a redelivered event advances nothing; the story reads back over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from aicore import wiring
from aicore.auth import Role
from aicore.local.runtime import LocalRuntime, local_token
from aicore.topology import STORY_BEAT, WORLD_FACT_CHANGED, WORLD_SOURCE
from aicore.world.arcs import ArcProgress, ReachedBeat
from aicore.world.content import FactSet
from aicore.world.events import OutboxEntry, StoryBeat
from tests.clients import http_json
from tests.world_clients import Subscriber, paused_demo_copy, wait_until

DELIVERY_S = 300.0  # bounds a failure on a busy machine: two narrations by the CPU model, or their lines


def test_a_fact_change_sets_off_a_beat_that_reaches_a_subscribed_client(runtime: LocalRuntime) -> None:
    asyncio.run(_fact_to_beat(runtime))


async def _fact_to_beat(runtime: LocalRuntime) -> None:
    base = runtime.gateway.gateway.url
    world = await asyncio.to_thread(paused_demo_copy, base, "s")
    # Given a real WebSocket client subscribed to the pass, one to the lake shore
    pass_watcher = await Subscriber.open(
        runtime.gateway.gateway.ws_url, local_token("p-1", world), ["north-pass"]
    )
    lake_watcher = await Subscriber.open(
        runtime.gateway.gateway.ws_url, local_token("p-2", world), ["lake-shore"]
    )
    # When a game server raises the toll on the pass (If-Match: 0 creates the fact)
    game_server = local_token("gs-1", world, (Role.GAME_SERVER,))
    status, answer = await asyncio.to_thread(
        http_json,
        f"{base}/worlds/{world}/facts/pass_toll",
        game_server,
        "PUT",
        {"value": 3, "region": "north-pass"},
        {"If-Match": "0"},
    )
    assert status == 200, answer
    # Then the toll beat reaches the pass's subscriber as a world.update, narrated
    await wait_until(lambda: pass_watcher.kinds("story_beat"), DELIVERY_S, "the toll beat pushed")
    beat = pass_watcher.kinds("story_beat")[0]["data"]
    assert (beat["world_id"], beat["arc_id"], beat["beat_id"], beat["region"]) == (
        world,
        "pass-toll",
        "toll-raised",
        "north-pass",
    )
    assert beat["narration"].strip()
    assert beat["narration_source"] in {"model", "scripted"}
    assert (beat["beat"], beat["beats"], beat["version"]) == (1, 4, 1)
    # And the beat's fact change went through the facts' path and set the next beat off
    store = wiring.world_state()

    def caravans_stalled() -> Any:
        progress = store.state(world).arcs.get("pass-toll")
        return progress is not None and [r.beat_id for r in progress.reached] == [
            "toll-raised",
            "caravans-stall",
        ]

    await wait_until(caravans_stalled, DELIVERY_S, "the caravans' beat")
    caravans = store.fact(world, "caravans_waiting")
    assert caravans is not None
    assert (caravans.value, caravans.version, caravans.updated_by) == (True, 1, "storyteller")
    # And the lake's subscriber got no story beat (the caravans' beat is on the roads)
    assert lake_watcher.kinds("story_beat") == []
    # When the bus redelivers the fact's event
    event = _fact_event(world)
    redelivered = await asyncio.to_thread(runtime.lambdas.invoke, "storyteller", event)
    # Then nothing advances: one Story Beat per beat, the arc where it was
    assert redelivered["arcs"]["pass-toll"] == "duplicate"
    assert redelivered["beats"] == []
    progress = store.state(world).arcs["pass-toll"]
    assert [r.beat_id for r in progress.reached] == ["toll-raised", "caravans-stall"]
    # And the story reads back over HTTP: beats told with their narration and game time
    status, story = await asyncio.to_thread(
        http_json, f"{base}/worlds/{world}/story", local_token("p-1", world)
    )
    assert status == 200, story
    arcs = {a["arc_id"]: a for a in story["data"]["arcs"]}
    told = arcs["pass-toll"]["reached"]
    assert [b["beat_id"] for b in told] == ["toll-raised", "caravans-stall"]
    assert told[0]["narration"] == beat["narration"]
    assert told[0]["at"]["season"] == beat["season"]  # the game clock runs on: as told
    assert arcs["pass-toll"]["current_beat"]["beat_id"] == "storm-on-the-pass"
    assert store.outbox(world) == []
    assert len(pass_watcher.kinds("story_beat")) == 1
    for client in (pass_watcher, lake_watcher):
        await client.close()


def _fact_event(world: str) -> dict[str, Any]:
    """The EventBridge event of the toll's creation, as a redelivery would bring it again."""
    fact = wiring.world_state().fact_at(world, "pass_toll", 1)
    assert fact is not None
    return {
        "version": "0",
        "id": "redelivered",
        "detail-type": WORLD_FACT_CHANGED,
        "source": WORLD_SOURCE,
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "world_id": world,
            "correlation_id": "again",
            "event_id": "fact:pass_toll:1",
            "key": "pass_toll",
            "value": 3,
            "region": "north-pass",
            "version": 1,
            "previous_version": 0,
            "changed_by": "gs-1",
            "via": "http",
        },
    }


def test_an_arc_advances_only_from_the_version_it_is_at_on_dynamodb(runtime: LocalRuntime) -> None:
    # Given an arc's progress written at version 1, with its beat's event in the outbox
    store, world = wiring.world_state(), f"s-{uuid.uuid4().hex[:8]}"
    first = ArcProgress(arc_id="a").advanced(_reached("b1"), (FactSet(key="k", value=1),))
    assert store.advance_arc(world, first, 0, _entry(world, "b1"))
    # When two writers both start from version 0 again, or from 1 with a settled copy and a new beat
    assert not store.advance_arc(world, first, 0, _entry(world, "b1-again"))
    assert store.settle_arc(world, first.settled(), 1)
    assert not store.settle_arc(world, first.settled(), 1)
    # Then the state read finds the arc where the winners left it, and the first beat's event waiting
    progress = store.state(world).arcs["a"]
    assert (progress.version, [r.beat_id for r in progress.reached], progress.pending) == (2, ["b1"], [])
    assert [e.event_id for e in store.outbox(world)] == ["story:a:b1"]
    store.clear_outbox(world, "story:a:b1")


def _reached(beat_id: str) -> ReachedBeat:
    return ReachedBeat(
        beat_id=beat_id, narration="n", tier="scripted", game_time=0, day=1, hour=0, minute=0,
        part_of_day="night", season="spring", reached_at="2026-01-01T00:00:00.000+00:00", trigger_id="t",
    )  # fmt: skip


def _entry(world: str, beat_id: str) -> OutboxEntry:
    event = StoryBeat(
        world_id=world, correlation_id="c", event_id=f"story:a:{beat_id}", arc_id="a", arc_title="A",
        beat_id=beat_id, beat=1, beats=1, narration="n", narration_source="scripted", tier="scripted",
        game_time=0, day=1, part_of_day="night", season="spring", trigger_id="t", version=1,
    )  # fmt: skip
    return OutboxEntry.of(STORY_BEAT, event, 0.0)
