"""The analytics stream for real: events on the local bus go through the analytics rule (its input
transformer, the local EventBridge delivery) into daily files, and the saved queries count them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aicore.analytics.queries import saved_query
from aicore.commerce.models import EntitlementChanged
from aicore.events import EventDetail
from aicore.local.analytics import AnalyticsFiles, run_query
from aicore.local.delivery import EventDelivery
from aicore.local.embedded_aws import EmbeddedAws, aws_client, create_analytics_rule, create_resources
from aicore.local.lambdas import Lambdas
from aicore.local.runtime import LocalRuntime, local_token
from aicore.npc.events import NpcTurnCompleted
from aicore.quests.models import QuestOffered, QuestSource
from aicore.sessions.events import SessionRehydrationRequested
from aicore.topology import (
    COMMERCE_SOURCE,
    ENTITLEMENT_GRANTED,
    NPC_SOURCE,
    NPC_TURN_COMPLETED,
    QUEST_OFFERED,
    QUEST_SOURCE,
    SESSION_REHYDRATION_REQUESTED,
    SESSIONS_SOURCE,
    TOPOLOGY,
    WEATHER_CHANGED,
    WORLD_SOURCE,
    physical_name,
)
from aicore.world.content import WeatherCondition
from aicore.world.events import WeatherChanged
from tests.clients import exchange
from tests.waiting import eventually

ENV = "analytics-it"
WORLD = "analytics-world"


@pytest.fixture(scope="module")
def bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """moto with the topology's bus and rules; only the analytics rule is delivered (into files)."""
    folder = tmp_path_factory.mktemp("analytics")
    aws = EmbeddedAws()
    url = aws.start()
    create_resources(url, ENV)
    rule = create_analytics_rule(url, ENV)
    assert rule is not None
    delivery = EventDelivery(Lambdas(), url, [], [(rule, AnalyticsFiles(folder).write)])
    delivery.start()
    yield aws_client("events", url), folder
    delivery.stop()
    aws.stop()


def _put(events: Any, source: str, detail_type: str, detail: EventDetail) -> None:
    """What `aicore.aws.events.EventBridgePublisher` puts."""
    entry = {
        "EventBusName": physical_name(ENV, TOPOLOGY.bus.name),
        "Source": source,
        "DetailType": detail_type,
        "Detail": detail.model_dump_json(),
    }
    assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0


def _turn(
    n: int, npc: str, player: str, tier: str = "gold", reason: str | None = None, ms: float = 40
) -> NpcTurnCompleted:
    return NpcTurnCompleted(
        world_id=WORLD,
        correlation_id=f"turn-{n}",
        session_id=f"s-{player}-{npc}",
        npc_id=npc,
        player_id=player,
        player_line="Any rooms?",
        reply="Well met.",
        tier=tier,
        fallback=reason is not None,
        fallback_reason=reason,
        first_token_ms=ms,
    )


def _lines(folder: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(folder.glob("dt=*/*.jsonl"))
        for line in path.read_text().splitlines()
    ]


def test_bus_events_land_in_daily_files_and_the_saved_queries_count_them(bus: tuple[Any, Path]) -> None:
    events, folder = bus
    # Given 3 turns of mira and 1 of borin (silver, after gold timed out), two players, a quest offer,
    # a purchase by a third player, a session brought back from cold, and a weather change
    turns = [
        _turn(1, "mira", "p1", ms=30),
        _turn(2, "mira", "p1", ms=50),
        _turn(3, "mira", "p2", ms=70),
        _turn(4, "borin", "p1", tier="silver", reason="gold: timed_out", ms=800),
    ]
    for turn in turns:
        _put(events, NPC_SOURCE, NPC_TURN_COMPLETED, turn)
    quest = QuestOffered(
        world_id=WORLD,
        correlation_id="q",
        event_id="quest:q1:offered",
        quest_id="q1",
        player_id="p2",
        npc_id="mira",
        template_id="cellar-rats",
        source=QuestSource.TEMPLATE,
        title="Rats in the cellar",
    )
    _put(events, QUEST_SOURCE, QUEST_OFFERED, quest)
    purchase = EntitlementChanged(
        world_id=WORLD,
        correlation_id="pay",
        event_id="grant:pu1",
        player_id="p3",
        entitlement="premium",
        purchase_id="pu1",
        price_id="price-1",
        provider_event_id="evt_1",
        reason="purchase",
    )
    _put(events, COMMERCE_SOURCE, ENTITLEMENT_GRANTED, purchase)
    rehydration = SessionRehydrationRequested(
        world_id=WORLD, correlation_id="r", session_id="s-1", archive_key="k"
    )
    _put(events, SESSIONS_SOURCE, SESSION_REHYDRATION_REQUESTED, rehydration)
    weather = WeatherChanged(
        world_id=WORLD,
        correlation_id="w",
        event_id="weather:1",
        region="harbor",
        hour=10,
        condition=WeatherCondition.RAIN,
        previous_condition=WeatherCondition.CLEAR,
        temperature_c=9.5,
        wind_kph=20.0,
        season="autumn",
        part_of_day="morning",
    )
    _put(events, WORLD_SOURCE, WEATHER_CHANGED, weather)

    # Then the seven analytics events are in the day's file, shaped as Firehose writes them
    def all_seven() -> list[dict[str, Any]] | None:
        found = _lines(folder)
        return found if len(found) >= 7 else None

    lines = eventually(all_seven, timeout_s=60, what="the 7 analytics records in the files")
    assert sorted(r["detail_type"] for r in lines) == sorted(
        [NPC_TURN_COMPLETED] * 4 + [QUEST_OFFERED, ENTITLEMENT_GRANTED, SESSION_REHYDRATION_REQUESTED]
    )
    day = lines[0]["time"][:10]
    assert {p.name for p in folder.glob("dt=*")} == {f"dt={day}"}
    assert all(set(r) == {"id", "detail_type", "source", "time", "detail"} for r in lines)
    borin = next(
        r for r in lines if r["detail"].get("npc_id") == "borin" and r["detail_type"] == NPC_TURN_COMPLETED
    )
    assert borin["detail"]["fallback_reason"] == "gold: timed_out"

    # And the saved queries count them
    def rows(name: str) -> list[tuple[Any, ...]]:
        return run_query(folder, saved_query(name)).rows

    assert rows("turns_per_npc_per_day") == [(day, WORLD, "borin", 1), (day, WORLD, "mira", 3)]
    assert rows("fallback_rate_per_tier") == [(day, "gold", 3, 0, 0.0), (day, "silver", 1, 1, 1.0)]
    assert rows("p95_first_token") == [(day, "gold", 3, 50.0, 68.0), (day, "silver", 1, 800.0, 800.0)]
    assert rows("active_players") == [(day, WORLD, 3, 2)]


@pytest.mark.model
def test_a_runtimes_real_turns_land_in_its_analytics_folder(runtime: LocalRuntime, tmp_path: Path) -> None:
    # Given a player who says something to Mira, then to Borin (the busy CPU model: two turns only)
    player = f"analyst-{time.time_ns()}"
    url = f"ws://127.0.0.1:{runtime.options.port}/ws?token={local_token(player, 'demo')}"
    frames = [
        {"action": "npc.say", "request_id": f"a{n}", "npc_id": npc, "text": "Hello there."}
        for n, npc in enumerate(("mira", "borin"))
    ]
    replies = [f for f in exchange(url, frames, timeout_s=240) if f["type"] == "npc.reply"]
    assert all(r["ok"] for r in replies), replies

    # Then both turns land in the runtime's analytics folder (other tests' turns are there too)
    def turns() -> list[Path] | None:
        mine = [
            path
            for path in runtime.analytics_folder.glob("dt=*/*.jsonl")
            for line in path.read_text().splitlines()
            if (r := json.loads(line))["detail_type"] == NPC_TURN_COMPLETED
            and r["detail"]["player_id"] == player
        ]
        return mine if len(mine) >= 2 else None

    eventually(turns, timeout_s=60, what="the player's 2 turns in the analytics files")
    # And the saved query over this player's records counts them per NPC
    for path in runtime.analytics_folder.glob("dt=*/*.jsonl"):
        mine = [
            line
            for line in path.read_text().splitlines()
            if json.loads(line)["detail"].get("player_id") == player
        ]
        if mine:
            (tmp_path / path.parent.name).mkdir(exist_ok=True)
            (tmp_path / path.parent.name / path.name).write_text("\n".join(mine) + "\n")
    counts = {npc: n for _, _, npc, n in run_query(tmp_path, saved_query("turns_per_npc_per_day")).rows}
    assert counts == {"mira": 1, "borin": 1}
    [(_, _, players, talking)] = run_query(tmp_path, saved_query("active_players")).rows
    assert (players, talking) == (1, 1)
    tiers = {r[1] for r in run_query(tmp_path, saved_query("p95_first_token")).rows}
    assert tiers <= {"gold", "silver", "scripted"}
