"""The analytics stream: which events go, the record and its day, the saved queries over files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aicore.analytics.queries import UnknownQuery, saved_queries, saved_query
from aicore.analytics.records import INPUT_PATHS, INPUT_TEMPLATE, AnalyticsRecord, record_of
from aicore.local.analytics import AnalyticsFiles, default_folder, run_query
from aicore.local.cli import main
from aicore.npc.events import NpcTurnCompleted
from aicore.topology import (
    ANALYTICS,
    COMMERCE_SOURCE,
    ENTITLEMENT_GRANTED,
    ENTITLEMENT_REVOKED,
    NPC_SOURCE,
    NPC_TURN_COMPLETED,
    QUEST_ABANDONED,
    QUEST_ACCEPTED,
    QUEST_COMPLETED,
    QUEST_OFFERED,
    QUEST_PROGRESSED,
    QUEST_REWARD_GRANTED,
    SESSION_COMPACTION_NEEDED,
    SESSION_REHYDRATION_REQUESTED,
    TOPOLOGY,
    WEATHER_CHANGED,
    AnalyticsStream,
)
from tests.fakes import FakePublisher, ScriptedEndpoint
from tests.npc_turns import say, turn_deps

DAY = "2026-12-01"


def bus_event(
    detail_type: str, detail: dict[str, Any], *, event_id: str, time: str = f"{DAY}T10:00:00Z"
) -> dict[str, Any]:
    """An EventBridge event as a rule's target sees it."""
    source = next(s for s, types in TOPOLOGY.analytics.events if detail_type in types)  # type: ignore[union-attr]
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": time,
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def turn(
    event_id: str,
    npc: str,
    player: str = "p1",
    *,
    tier: str = "gold",
    fallback: bool = False,
    ms: float = 50.0,
) -> dict[str, Any]:
    detail = {
        "world_id": "demo",
        "correlation_id": f"c-{event_id}",
        "npc_id": npc,
        "player_id": player,
        "tier": tier,
        "fallback": fallback,
        "fallback_reason": "gold: timed_out" if fallback else None,
        "first_token_ms": ms,
        "reply": "Well met.",
    }
    return record_of(bus_event(NPC_TURN_COMPLETED, detail, event_id=event_id)).model_dump()


def test_the_topology_lists_every_turn_tier_move_quest_and_purchase_event_once() -> None:
    stream = TOPOLOGY.analytics
    assert stream is not None
    assert set(stream.detail_types) == {
        NPC_TURN_COMPLETED,
        SESSION_COMPACTION_NEEDED,
        SESSION_REHYDRATION_REQUESTED,
        QUEST_OFFERED,
        QUEST_ACCEPTED,
        QUEST_PROGRESSED,
        QUEST_COMPLETED,
        QUEST_ABANDONED,
        QUEST_REWARD_GRANTED,
        ENTITLEMENT_GRANTED,
        ENTITLEMENT_REVOKED,
    }
    assert len(stream.detail_types) == len(set(stream.detail_types))
    assert WEATHER_CHANGED not in stream.pattern["detail-type"]
    assert stream.pattern["source"] == [NPC_SOURCE, "aicore.sessions", "aicore.quests", COMMERCE_SOURCE]
    assert stream.bucket in TOPOLOGY.buckets


def test_an_analytics_stream_outside_the_topology_is_a_problem() -> None:
    from dataclasses import replace

    stray = AnalyticsStream("analytics", ANALYTICS, events=(("game.elsewhere", ("Thing Happened",)),))
    problems = replace(TOPOLOGY, buckets=(), analytics=stray).problems()
    assert "analytics: its bucket is not in the topology" in problems
    assert "analytics: source 'game.elsewhere' is not in the topology's event sources" in problems


def test_the_input_template_makes_the_record_record_of_describes() -> None:
    # Given an event, and the template filled as EventBridge fills it (strings quoted, detail as JSON)
    event = bus_event(
        QUEST_OFFERED, {"world_id": "demo", "quest_id": "q1", "title": 'The "Old" Mill'}, event_id="e1"
    )
    filled = INPUT_TEMPLATE
    for name in INPUT_PATHS:
        value = record_of(event).model_dump()[name]
        filled = filled.replace(f"<{name}>", json.dumps(value) if name == "detail" else str(value))
    # Then it parses into the same record
    assert AnalyticsRecord.model_validate_json(filled) == record_of(event)
    assert record_of(event).model_dump() == {
        "id": "e1",
        "detail_type": QUEST_OFFERED,
        "source": "aicore.quests",
        "time": f"{DAY}T10:00:00Z",
        "detail": {"world_id": "demo", "quest_id": "q1", "title": 'The "Old" Mill'},
    }


@pytest.mark.parametrize(
    ("time", "day"),
    [
        ("2026-12-01T00:00:00Z", "2026-12-01"),
        ("2026-12-01T23:59:59Z", "2026-12-01"),
        ("2026-12-02T00:00:00Z", "2026-12-02"),
    ],
)
def test_a_record_is_partitioned_by_its_events_utc_day(time: str, day: str, tmp_path: Path) -> None:
    files = AnalyticsFiles(tmp_path)
    files.write(
        record_of(bus_event(QUEST_OFFERED, {"world_id": "demo"}, event_id="e1", time=time)).model_dump()
    )
    [written] = list(tmp_path.glob("dt=*/*.jsonl"))
    assert written.parent.name == f"dt={day}"
    assert json.loads(written.read_text())["id"] == "e1"


def test_a_body_that_is_not_a_record_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    files = AnalyticsFiles(tmp_path)
    with pytest.raises(ValueError, match="validation error"):
        files.write({"id": "e1", "detail": {}})
    assert not list(tmp_path.glob("dt=*/*"))


def test_saved_queries_count_turns_fallbacks_first_tokens_and_players(tmp_path: Path) -> None:
    # Given 3 turns of mira and 1 of borin (one delivered twice, as at-least-once delivery may),
    # two players, a fallback to silver, and a purchase by a third player
    files = AnalyticsFiles(tmp_path)
    records = [
        turn("t1", "mira", ms=40),
        turn("t2", "mira", ms=60),
        turn("t3", "mira", "p2", tier="silver", fallback=True, ms=900),
        turn("t4", "borin", ms=80),
    ]
    for record in [*records, records[0]]:
        files.write(record)
    purchase = {"world_id": "demo", "player_id": "p3", "entitlement": "premium"}
    files.write(record_of(bus_event(ENTITLEMENT_GRANTED, purchase, event_id="g1")).model_dump())

    # Then each query answers per day, counting each event once
    def rows(name: str) -> list[tuple[Any, ...]]:
        return run_query(tmp_path, saved_query(name)).rows

    assert rows("turns_per_npc_per_day") == [(DAY, "demo", "borin", 1), (DAY, "demo", "mira", 3)]
    assert rows("fallback_rate_per_tier") == [(DAY, "gold", 3, 0, 0.0), (DAY, "silver", 1, 1, 1.0)]
    assert rows("p95_first_token") == [(DAY, "gold", 3, 60.0, 78.0), (DAY, "silver", 1, 900.0, 900.0)]
    assert rows("active_players") == [(DAY, "demo", 3, 2)]


def test_saved_queries_over_no_events_answer_no_rows(tmp_path: Path) -> None:
    for query in saved_queries():
        result = run_query(tmp_path, query)
        assert result.rows == []
        assert result.columns[0] == "day"


def test_the_saved_queries_are_the_four_the_studio_reads() -> None:
    assert [q.name for q in saved_queries()] == [
        "active_players",
        "fallback_rate_per_tier",
        "p95_first_token",
        "turns_per_npc_per_day",
    ]
    assert all(q.description and "FROM events" in q.sql for q in saved_queries())
    with pytest.raises(UnknownQuery, match="the saved queries are: active_players"):
        saved_query("turns")


def test_the_command_prints_a_saved_query_as_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = AnalyticsFiles(tmp_path)
    for record in (turn("t1", "mira"), turn("t2", "borin")):
        files.write(record)
    assert main(["analytics", "query", "turns_per_npc_per_day", "--dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["day", "world_id", "npc_id", "turns"]
    assert [line.split() for line in lines[2:]] == [[DAY, "demo", "borin", "1"], [DAY, "demo", "mira", "1"]]

    assert main(["analytics", "query", "nope", "--dir", str(tmp_path)]) == 1
    assert "no saved query 'nope'" in capsys.readouterr().err
    assert main(["analytics", "query", "active_players", "--dir", str(tmp_path / "missing")]) == 1
    assert "is not a folder" in capsys.readouterr().err
    assert main(["analytics", "list"]) == 0
    assert "turns_per_npc_per_day" in capsys.readouterr().out


def test_in_memory_runtimes_keep_analytics_in_a_folder_per_port_emptied_at_start(tmp_path: Path) -> None:
    assert default_folder(8123) != default_folder(8124)
    (tmp_path / "dt=2026-01-01").mkdir(parents=True)
    (tmp_path / "dt=2026-01-01" / "old.jsonl").write_text("{}\n")
    AnalyticsFiles(tmp_path, empty_first=True)
    assert not list(tmp_path.glob("dt=*"))


def test_the_turn_event_carries_its_tier_fallback_reason_and_first_token() -> None:
    # Given gold is down: silver answers the turn
    deps = turn_deps(endpoint=ScriptedEndpoint(failing={"gold"}))
    say(deps)
    assert isinstance(deps.events, FakePublisher)
    [(_, detail_type, detail)] = deps.events.published
    assert detail_type == NPC_TURN_COMPLETED
    assert isinstance(detail, NpcTurnCompleted)
    # Then its event says so, with the wait for the first token, for the analytics store
    assert (detail.tier, detail.fallback, detail.fallback_reason) == ("silver", True, "gold: ModelError")
    assert detail.first_token_ms is not None
    assert detail.first_token_ms >= 0
