"""QA scenarios as data, the checks over recorded turns, and the report (JSON and HTML)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicore.local.cli import main
from aicore.local.qa import load_scenario, summary
from aicore.qa.checks import (
    FIRST_TOKEN,
    IN_CHARACTER,
    LOGIN,
    MODEL_ANSWERED,
    QUEST_COMPLETES,
    REPLIED,
    CheckResult,
    Failure,
    evaluate,
)
from aicore.qa.players import Environment, Guest, HttpFailure, complete_quest
from aicore.qa.records import BatchResult, QuestRecord, TurnRecord
from aicore.qa.report import build_report, histogram_svg, percentile, render_html
from aicore.qa.scenario import (
    FOURTH_WALL,
    QuestCheck,
    Scenario,
    ScenarioError,
    parse_scenario,
    phrase_pattern,
)

SCENARIOS = Path(__file__).resolve().parents[2] / "qa" / "scenarios"


def scenario(**changes: Any) -> Scenario:
    data: dict[str, Any] = {
        "name": "t",
        "conversation": [{"npc": "odo", "text": "Are you real?"}, {"npc": "mira", "text": "Hi"}],
        "persona": {"budget": {"max_chars": 100, "max_first_token_ms": 1000, "max_total_ms": 5000}},
        "npcs": {"odo": {"forbidden_phrases": ["not a ferryman"], "budget": {"max_chars": 40}}},
        "load": {"players": 2, "turns_each": 2},
    }
    return parse_scenario(data | changes)


def turn(reply: str = "Aye, the lake is calm.", **changes: Any) -> TurnRecord:
    values: dict[str, Any] = {
        "player": 0,
        "turn": 1,
        "npc": "odo",
        "said": "Are you real?",
        "reply": reply,
        "tier": "gold",
        "tokens": 5,
        "first_token_ms": 200.0,
        "total_ms": 900.0,
    }
    return TurnRecord(**(values | changes))


def failures(results: list[CheckResult], check: str) -> list[Failure]:
    return next(r for r in results if r.check == check).failures


# --- scenarios -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_scenario_parses(path: Path) -> None:
    parsed = load_scenario(path)
    assert parsed.name == path.stem


def test_a_scenario_with_a_typo_names_the_field_and_not_its_value() -> None:
    with pytest.raises(ScenarioError) as refused:
        parse_scenario({"name": "t", "conversation": [{"npc": "odo", "txt": "secret words"}]}, "x.yaml")
    message = str(refused.value)
    assert message.startswith("x.yaml: ")
    assert "conversation.0.text: Field required" in message
    assert "conversation.0.txt: Extra inputs are not permitted" in message
    assert "secret words" not in message


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"load": {"players": 0}}, "load.players"),
        ({"load": {"players": 1, "batch_size": 1000}}, "load.batch_size"),
        ({"conversation": []}, "conversation"),
        ({"npcs": {"vex": {}}}, "npcs: vex not spoken to"),
        ({"persona": {"budget": {"max_first_token_ms": -1}}}, "persona.budget.max_first_token_ms"),
        ({"name": "Bad Name!"}, "name"),
    ],
)
def test_a_bad_scenario_is_refused_with_where(change: dict[str, Any], says: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(says)):
        scenario(**change)


def test_a_file_that_is_not_yaml_says_where(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad.yaml: not valid YAML at line \d"):
        load_scenario(bad)


def test_per_npc_budget_and_phrases_add_to_the_common_ones() -> None:
    parsed = scenario()
    assert parsed.budget("odo").max_chars == 40
    assert parsed.budget("odo").max_total_ms == 5000
    assert parsed.budget("mira").max_chars == 100
    assert "not a ferryman" in parsed.forbidden("odo")
    assert "not a ferryman" not in parsed.forbidden("mira")
    assert set(FOURTH_WALL) <= set(parsed.forbidden("mira"))


def test_players_cycle_the_conversation_and_are_batched() -> None:
    parsed = scenario(load={"players": 23, "turns_each": 3, "batch_size": 10})
    assert [line.npc for line in parsed.lines_of_player()] == ["odo", "mira", "odo"]
    assert [len(batch) for batch in parsed.batches()] == [10, 10, 3]
    assert sorted(p for batch in parsed.batches() for p in batch) == list(range(23))


@pytest.mark.parametrize(
    ("reply", "found"),
    [
        ("As an AI, I cannot row.", True),
        ("I'm an   AI language model", True),
        ("I\u2019m an ai, friend", True),
        ("The chatbots of old...", False),  # whole words only
        ("Said a  brain, 'AS AN AI'", True),
        ("I was a trainee once", False),
    ],
)
def test_phrases_match_whole_words_whatever_the_case_spacing_or_apostrophe(reply: str, found: bool) -> None:
    assert any(phrase_pattern(p).search(reply) for p in FOURTH_WALL) is found


WORDS = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz'.?", min_size=1, max_size=8), min_size=1, max_size=5
)


@given(words=WORDS, gap=st.sampled_from([" ", "  ", "\n", "\t "]), upper=st.booleans())
def test_a_phrase_is_found_in_any_case_and_spacing_and_never_inside_a_longer_word(
    words: list[str], gap: str, upper: bool
) -> None:
    phrase = " ".join(words)
    spoken = gap.join(words)
    pattern = phrase_pattern(phrase)
    assert pattern.search(f"Then: {spoken.upper() if upper else spoken}!") is not None
    if words[0][0].isalpha():
        assert pattern.search(f"x{spoken}") is None


# --- checks --------------------------------------------------------------------------------------


def test_a_reply_that_admits_being_an_ai_fails_in_character_naming_the_turn() -> None:
    results = evaluate(scenario(), [turn("As an AI language model, I cannot row.", player=1, turn=2)])

    [failure] = failures(results, IN_CHARACTER)
    assert failure.where == "player 1 turn 2 (odo)"
    assert failure.said == "Are you real?"
    assert failure.expected == "no forbidden phrase"
    assert "'as an ai'" in failure.actual
    assert "As an AI language model, I cannot row." in failure.actual


def test_a_per_npc_phrase_fails_only_that_npc() -> None:
    line = "I am not a ferryman."
    results = evaluate(scenario(), [turn(line), turn(line, npc="mira", turn=2)])
    assert [f.where for f in failures(results, IN_CHARACTER)] == ["player 0 turn 1 (odo)"]


def test_budgets_name_expected_and_actual() -> None:
    results = evaluate(scenario(), [turn("x" * 41, first_token_ms=1500.0, total_ms=6000.0)])
    by_check = {r.check: r for r in results}
    assert by_check["reply_length"].failures[0].actual == "41 characters"
    assert by_check["reply_length"].failures[0].expected == "at most 40 characters"
    assert by_check[FIRST_TOKEN].failures[0].actual == "1500 ms"
    assert by_check["total_latency"].failures[0].expected == "at most 5000 ms"


def test_a_turn_that_did_not_end_in_a_reply_fails_replied_only() -> None:
    results = evaluate(scenario(), [turn("", error="ConnectionLost: gone")])
    assert {r.check for r in results} == {LOGIN, REPLIED}
    assert failures(results, REPLIED)[0].actual == "ConnectionLost: gone"


def test_a_scripted_fallback_fails_only_when_the_scenario_forbids_it() -> None:
    fell_back = turn(
        "Hm?", tier="scripted", fallback=True, fallback_reason="gold: timeout", first_token_ms=None
    )
    assert MODEL_ANSWERED not in {r.check for r in evaluate(scenario(), [fell_back])}
    strict = scenario(persona={"allow_fallback": False})
    assert "gold: timeout" in failures(evaluate(strict, [fell_back]), MODEL_ANSWERED)[0].actual


def test_good_turns_pass_every_check() -> None:
    results = evaluate(scenario(), [turn(), turn(npc="mira", turn=2)])
    assert all(r.passed for r in results)
    assert next(r for r in results if r.check == LOGIN).evaluated == 2


def test_failed_logins_and_quests_are_named() -> None:
    quest = QuestRecord(
        player=0, giver="odo", quest_id="q-1", steps=["offered", "accepted"], state="accepted"
    )
    results = evaluate(scenario(), [], [quest], ["player 1: POST /auth/guest: HTTP 429 throttled"])
    assert failures(results, LOGIN)[0].where == "player 1"
    assert failures(results, QUEST_COMPLETES)[0].actual == "state accepted after offered → accepted"
    done = quest.model_copy(update={"state": "completed"})
    assert next(r for r in evaluate(scenario(), [], [done]) if r.check == QUEST_COMPLETES).passed


# --- report --------------------------------------------------------------------------------------


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([float(v) for v in range(1, 11)], 0.9) == 9.0


def test_the_report_has_pass_fail_per_check_latency_per_npc_and_escaped_html() -> None:
    # Given two batches, one of which has a turn that breaks character with markup in it
    bad = turn("As an AI <script>alert(1)</script>", player=1)
    batches = [BatchResult(turns=[turn(), turn(npc="mira", turn=2)]), BatchResult(turns=[bad])]

    # When the report is built and rendered
    report = build_report(scenario(), batches, "http://x", "2026-12-01T10:00:00+00:00", 3.2)
    page = render_html(report)

    # Then it fails, names the turn, has each NPC's latency and an inline SVG chart, no script
    assert not report.passed
    assert [n.npc for n in report.npcs] == ["mira", "odo"]
    assert report.npcs[1].first_token.median_ms == 200.0
    assert "player 1 turn 1 (odo)" in page
    assert "<svg" in page
    assert "<script" not in page
    assert "&lt;script&gt;" in page
    assert "checks FAILED" in summary(report)


def test_a_histogram_draws_one_bar_per_band() -> None:
    svg = histogram_svg([100.0, 150.0, 900.0], bins=4)
    assert svg.count("<rect") == 4
    assert "100 ms" in svg
    assert "900 ms" in svg
    assert "no streamed turns" in histogram_svg([])


# --- the quest world check, against a fake of the public quest routes ---------------------------


class FakeQuestRoutes:
    """`GET /players/me/quests`, `POST .../accept` and the game server's objective reports, in memory:
    the quest completes once every objective is reported (as the quest-life flow does, a read later)."""

    def __init__(self, game_token: str = "gs-token") -> None:
        self.game_token = game_token
        self.quest: dict[str, Any] = {
            "quest_id": "q-1",
            "npc_id": "odo",
            "state": "offered",
            "objectives": [
                {
                    "objective_id": "buy-oil",
                    "kind": "collect",
                    "target": "lantern-oil",
                    "count": 2,
                    "done": 0,
                },
                {
                    "objective_id": "to-the-ferry",
                    "kind": "visit",
                    "target": "lake-shore",
                    "count": 1,
                    "done": 0,
                },
            ],
        }
        self.calls: list[str] = []
        self.reads_until_offered = 2

    def __call__(self, base: str, method: str, path: str, body: object, token: str | None) -> dict[str, Any]:
        self.calls.append(f"{method} {path}")
        if path == "/players/me/quests":
            self.reads_until_offered -= 1
            met = all(o["done"] >= o["count"] for o in self.quest["objectives"])
            if met and self.quest["state"] == "accepted":
                self.quest["state"] = "completed"
            return {"quests": [self.quest] if self.reads_until_offered < 0 else []}
        if path.endswith("/accept"):
            self.quest["state"] = "accepted"
            return self.quest
        if path.endswith("/objectives"):
            if token != self.game_token:
                raise HttpFailure(f"{method} {path}: HTTP 403 forbidden: game_server only")
            assert isinstance(body, dict)
            for objective in self.quest["objectives"]:
                if (objective["kind"], objective["target"]) == (body["kind"], body["target"]):
                    objective["done"] = min(objective["count"], objective["done"] + body["count"])
            return {"report_id": body["report_id"]}
        raise AssertionError(path)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


GUEST = Guest(player_id="ply-1", world_id="demo", token="player-token")


def run_quest(routes: FakeQuestRoutes, game_token: str | None, within_s: float = 60) -> QuestRecord:
    env = Environment("http://x", "ws://x/ws", game_token)
    time = FakeTime()
    check = QuestCheck(giver="odo", complete_within_s=within_s)
    return asyncio.run(complete_quest(check, env, 0, GUEST, time.clock, time.sleep, routes))


def test_a_quest_is_waited_for_accepted_reported_and_read_completed() -> None:
    routes = FakeQuestRoutes()

    record = run_quest(routes, "gs-token")

    assert record.state == "completed"
    assert record.steps == ["offered", "accepted", "reported buy-oil", "reported to-the-ferry", "completed"]
    assert "POST /worlds/demo/players/ply-1/objectives" in routes.calls
    assert next(r for r in evaluate(scenario(), [], [record]) if r.check == QUEST_COMPLETES).passed


def test_a_quest_check_says_why_it_failed() -> None:
    # Without a game_server token nothing is called; with a wrong one the refusal is the actual
    unrun = run_quest(FakeQuestRoutes(), None)
    assert unrun.error is not None
    assert "needs a game_server token" in unrun.error
    refused = run_quest(FakeQuestRoutes(), "player-token")
    assert (refused.quest_id, refused.steps) == ("q-1", ["offered", "accepted"])
    [failure] = failures(evaluate(scenario(), [], [refused]), QUEST_COMPLETES)
    assert "HTTP 403" in failure.actual
    assert failure.where == "player 0 quest of odo (q-1)"


def test_no_offer_within_the_deadline_is_a_failure_not_a_hang() -> None:
    routes = FakeQuestRoutes()
    routes.reads_until_offered = 10_000

    record = run_quest(routes, "gs-token", within_s=5)

    assert record.error == "no quest of odo was offered within 5 s"
    assert len(routes.calls) <= 7  # one read a second of (fake) time, then it gives up


def test_qa_run_with_a_bad_scenario_exits_2_and_says_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: t\nconversation: [{npc: odo}]\n", encoding="utf-8")

    code = main(["qa", "run", str(bad), "--url", "http://127.0.0.1:9"])

    assert code == 2
    assert "conversation.0.text: Field required" in capsys.readouterr().err
