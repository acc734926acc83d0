"""The living world on the local runtime: the demo world pushed at start through the world API,
`aicore world push` against it, and the stores on moto server."""

from __future__ import annotations

import json
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from aicore import wiring
from aicore.auth import Role
from aicore.local.cli import main
from aicore.local.embedded_aws import aws_client
from aicore.local.runtime import LocalRuntime, local_token
from aicore.local.world_push import PushRefused, push_content
from aicore.topology import WORLD_FACT_CHANGED, WORLD_SOURCE, physical_name
from aicore.world.clock import ClockState
from aicore.world.definition import WorldDefinition
from aicore.world.push import ContentManifest
from aicore.world.ticker import TickDeps, tick_world
from aicore.world.weather import region_weather
from tests.clients import http_json
from tests.fakes import FakePublisher
from tests.world_fakes import demo_content


def _studio(world: str = "demo") -> str:
    return local_token("studio-1", world, (Role.STUDIO,))


def test_the_runtime_loaded_the_demo_world_through_the_world_api(runtime: LocalRuntime) -> None:
    base = runtime.gateway.gateway.url
    status, content = http_json(f"{base}/worlds/demo/content", _studio())
    assert status == 200, content
    assert content["data"]["version"] >= 1
    assert content["data"]["pushed_by"] == "aicore-local-seed"
    status, npcs = http_json(f"{base}/worlds/demo/npcs", local_token("p-1", "demo"))
    assert status == 200
    assert {n["npc_id"] for n in npcs["data"]["npcs"]} >= {"mira", "borin", "sable", "vex", "ysolde", "odo"}
    assert {n["region"] for n in npcs["data"]["npcs"]} >= {"emberfall", "north-pass", "lake-shore"}


def test_world_push_from_the_command_line_shows_the_diff(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the demo folder is pushed again (dry run, then for real)
    base = runtime.gateway.gateway.url
    assert main(["world", "push", "worlds/demo", "--url", base, "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert main(["world", "push", "worlds/demo", "--url", base]) == 0
    # Then nothing changes: the environment already has this content
    assert "nothing to change (dry run)" in dry.splitlines()[0]
    assert "nothing to change" in capsys.readouterr().out


def test_a_new_world_is_pushed_versioned_and_a_stale_push_loses(runtime: LocalRuntime) -> None:
    # Given a fresh world made of the demo's content
    world = f"w-{uuid.uuid4().hex[:8]}"
    demo = demo_content()
    content = demo.model_copy(
        update={"world": demo.world.model_copy(update={"world_id": world}), "documents": ()}
    )
    base = runtime.gateway.gateway.url
    # When it is pushed twice, the second time with one NPC less
    first = push_content(base, content, _studio(world))
    gone = content.npcs[0].npc_id
    # (with the NPC go the quests it gives)
    fewer = {"npcs": content.npcs[1:], "quests": tuple(q for q in content.quests if q.giver != gone)}
    second = push_content(base, content.model_copy(update=fewer), _studio(world))
    # Then the versions are 1 and 2, and the NPC is gone
    assert (first.to_version, second.to_version) == (1, 2)
    assert f"npc:{gone}" in second.removed
    assert content.npcs[0].npc_id not in {n.npc_id for n in wiring.world().list_npcs(world)}
    assert world in wiring.world_state().worlds()
    # And a manifest write at a stale version is refused by the table itself
    stale = ContentManifest(world_id=world, version=3, digests={})
    assert not wiring.world_state().record_push(stale, expected_version=1)
    # And a player's push never reaches the store
    with pytest.raises(PushRefused) as refused:
        push_content(base, content, local_token("p-1", world))
    assert refused.value.status == 403


def test_the_clock_is_stored_at_a_version_and_a_stale_change_is_refused(runtime: LocalRuntime) -> None:
    # Given the demo world's clock as its definition starts it
    state = wiring.world_state()
    definition = state.definition("demo")
    assert definition is not None
    start = state.clock("demo") or ClockState.starting(definition.world.clock)
    # When two studio tools change it from the same reading
    paused = start.changed(start.anchor_real + 10, paused=True, by="a")
    faster = start.changed(start.anchor_real + 10, speed=50, by="b")
    # Then the first is stored and the second is refused by the table
    assert state.put_clock("demo", paused, start.version)
    assert not state.put_clock("demo", faster, start.version)
    assert state.clock("demo") == paused
    assert state.put_clock("demo", paused.changed(paused.anchor_real, paused=False), paused.version)


def test_concurrent_ticks_announce_a_weather_change_once(runtime: LocalRuntime) -> None:
    # Given a world (not listed: the runtime's own schedule leaves it alone) looked at once
    world = f"w-{uuid.uuid4().hex[:8]}"
    demo = demo_content()
    definition = WorldDefinition.of(
        demo.model_copy(update={"world": demo.world.model_copy(update={"world_id": world})}), 1
    )
    store = wiring.world_state()
    store.put_definition(definition)
    publisher = FakePublisher()
    epoch = definition.world.clock.epoch
    wall = {"at": epoch}
    deps = TickDeps(store=store, events=publisher, time=lambda: wall["at"])
    assert tick_world(deps, world, "baseline") == []
    # When the weather has changed somewhere, and eight ticks run at once
    start = ClockState.starting(definition.world.clock)
    hour = int(start.game_seconds(epoch.timestamp())) // 3600
    before = {r.region_id: region_weather(definition, r).condition_at(hour) for r in definition.regions}
    later = hour + 1
    while all(
        region_weather(definition, r).condition_at(later) == before[r.region_id] for r in definition.regions
    ):
        later += 1
    wall["at"] = epoch + timedelta(seconds=(later - hour) * 3600 / definition.world.clock.speed + 1)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: tick_world(deps, world, f"tick-{i}"), range(8)))
    # Then each changed region was announced by exactly one of them
    changed = sorted(
        r.region_id
        for r in definition.regions
        if region_weather(definition, r).condition_at(later) != before[r.region_id]
    )
    announced = sorted(e for result in results for e in result)
    assert announced == [f"weather:{region}:{later}" for region in changed]
    assert sorted(d.event_id for _, _, d in publisher.published) == announced  # type: ignore[attr-defined]
    assert store.outbox(world) == []
    assert store.state(world).version == len(changed)


def _fresh_world(runtime: LocalRuntime) -> str:
    """A new world made of the demo's content (without lore documents), pushed through the API."""
    world = f"w-{uuid.uuid4().hex[:8]}"
    demo = demo_content()
    content = demo.model_copy(
        update={"world": demo.world.model_copy(update={"world_id": world}), "documents": ()}
    )
    push_content(runtime.gateway.gateway.url, content, _studio(world))
    return world


def _event_queue(runtime: LocalRuntime, world: str, detail_type: str) -> tuple[Any, str]:
    """An SQS queue that receives this world's `detail_type` events from the bus (a test's own rule)."""
    events, sqs = aws_client("events", runtime.aws.url), aws_client("sqs", runtime.aws.url)
    queue_url = sqs.create_queue(QueueName=f"test-{world}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = physical_name("local", "events")
    pattern = {"source": [WORLD_SOURCE], "detail-type": [detail_type], "detail": {"world_id": [world]}}
    events.put_rule(Name=f"test-{world}", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=f"test-{world}", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return sqs, queue_url


def _drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message the queue holds now (an empty receive ends it: delivery to it is synchronous)."""
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        found += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in messages],
        )
    return found


def test_thirty_concurrent_writers_one_wins_and_one_event(runtime: LocalRuntime) -> None:
    # Given a fresh world with a fact at version 1, and a queue counting its fact events
    world = _fresh_world(runtime)
    sqs, queue = _event_queue(runtime, world, WORLD_FACT_CHANGED)
    base = runtime.gateway.gateway.url
    game_server = local_token("gs-1", world, (Role.GAME_SERVER,))
    url = f"{base}/worlds/{world}/facts/throne"
    assert http_json(url, game_server, "PUT", {"value": "empty"}, {"If-Match": "0"})[0] == 200

    # When 30 writers that all read version 1 write at once, through the gateway, on DynamoDB (moto)
    def write(i: int) -> tuple[int, dict[str, Any]]:
        return http_json(url, game_server, "PUT", {"value": f"claimant-{i}"}, {"If-Match": "1"})

    with ThreadPoolExecutor(max_workers=30) as pool:
        replies = list(pool.map(write, range(30)))
    # Then exactly one wins, every other gets 409 with the current version
    statuses = sorted(status for status, _ in replies)
    assert statuses == [200] + [409] * 29, [body for _, body in replies if _ not in (200, 409)]
    assert {body["error"]["details"]["current_version"] for status, body in replies if status == 409} == {2}
    (winner,) = [body["data"]["value"] for status, body in replies if status == 200]
    # And the bus carried exactly one event per accepted change: the creation and the winner
    events = _drain(sqs, queue)
    assert sorted((e["detail"]["version"], e["detail"]["value"]) for e in events) == [
        (1, "empty"),
        (2, winner),
    ]
    store = wiring.world_state()
    assert store.fact_at(world, "throne", 2) is not None
    assert store.fact_at(world, "throne", 3) is None
    assert store.outbox(world) == []
    status, state = http_json(f"{base}/worlds/{world}/state", local_token("p-1", world))
    assert (status, state["data"]["facts"]["throne"]["version"], state["data"]["version"]) == (200, 2, 2)


def test_a_region_is_narrated_by_the_local_model_then_read_from_the_cache(runtime: LocalRuntime) -> None:
    # Given a fresh world whose clock stands still (the narration cannot age between the reads)
    world = _fresh_world(runtime)
    base, studio = runtime.gateway.gateway.url, _studio(world)
    assert http_json(f"{base}/worlds/{world}/clock", studio, "PUT", {"paused": True})[0] == 200
    player = local_token("p-1", world)
    # When a player reads a region twice (the first read waits for a CPU model: minutes on a busy machine)
    status, first = _slow_get(f"{base}/worlds/{world}/regions/emberfall", player)
    status_again, second = _slow_get(f"{base}/worlds/{world}/regions/emberfall", player)
    # Then a tier wrote it the first time (SmolLM behind the local SageMaker API), the cache answered next
    assert (status, status_again) == (200, 200), first
    narration = first["data"]["narration"]
    assert narration["text"]
    assert narration["cached"] is False
    assert second["data"]["narration"] == {**narration, "cached": True}
    assert second["data"]["state_version"] == first["data"]["state_version"]


def _slow_get(url: str, token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return response.status, json.loads(response.read())
