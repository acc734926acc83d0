"""The capacity and cost model (`aicore cost`): the arithmetic for 1,000 and 10,000 concurrent
players, what each line depends on, what-ifs, and the README quoting what the model says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aicore.capacity.model import Assumptions, CostModel, load_assumptions, load_prices, sensitivity
from aicore.llm.endpoints_config import load_endpoints
from aicore.local import cli
from aicore.local.cost import render

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model() -> CostModel:
    return CostModel(load_assumptions(), load_prices(), load_endpoints(REPO / "endpoints"))


def test_a_thousand_players_need_three_gold_and_four_silver_copies(model: CostModel) -> None:
    report = model.report(1000)
    gold, silver = report.tiers
    # 1,000 players x 2 turns a minute x 90 % = 1,800 gold turns a minute ÷ 600 per copy = 3
    assert gold.turns_per_minute == pytest.approx(1800)
    assert gold.copies == 3
    # 200 silver turns a minute ÷ 60 per copy = 4 (3.3 rounded up); 23 streams ÷ 8 = 3
    assert silver.turns_per_minute == pytest.approx(200)
    assert silver.copies == 4
    assert report.turns_per_month == pytest.approx(86.4e6)
    gpu = {item.item.split()[0]: item.dollars for item in report.items if "instances" in item.item}
    assert gpu == {"gold": pytest.approx(3 * 1.408 * 730), "silver": pytest.approx(4 * 1.515 * 730)}
    messages = next(i for i in report.items if i.item == "WebSocket messages")
    assert messages.dollars == pytest.approx(1000 * 1.00 + 209.6 * 0.80)  # 1,209.6 M messages
    assert report.total == pytest.approx(sum(i.dollars for i in report.items))
    assert report.per_ccu_month == pytest.approx(report.total / 1000)
    assert (report.gpus, round(report.ccu_per_two_gpus)) == (7, 286)


def test_ten_thousand_players_scale_the_per_turn_lines_tenfold(model: CostModel) -> None:
    small, large = model.report(1000), model.report(10_000)
    assert [t.copies for t in large.tiers] == [30, 34]
    for few, many in zip(small.items, large.items, strict=True):
        if few.item.startswith(("DynamoDB", "CloudWatch", "event consumers", "npc-say")):
            assert many.dollars == pytest.approx(10 * few.dollars), few.item
    # GPUs are bought whole: ten times the players costs less than ten times as much per player
    assert large.per_ccu_month < small.per_ccu_month


def _dollars(model: CostModel, ccu: int) -> dict[str, float]:
    return {item.item: item.dollars for item in model.report(ccu).items}


def test_a_thousand_players_voice_lines(model: CostModel) -> None:
    lines = _dollars(model, 1000)
    turns = 86.4e6
    # a quarter of the turns are voiced: 21.6 M replies x 160 characters at $16 a million
    assert lines["Polly (voiced replies)"] == pytest.approx(turns * 0.25 * 160 / 1e6 * 16.00)  # $55,296
    # a tenth are spoken: 8.64 M lines of 4 s, each billed as 15 s at $0.0004 a second
    transcribe = lines["Transcribe (spoken lines, 15 s minimum each)"]
    assert transcribe == pytest.approx(turns * 0.10 * max(15, 4) * 0.0004)  # $51,840
    # 21 npc.audio frames a voiced turn; 8 chunks (4 s ÷ 0.5 s) in and 8 npc.listening out a spoken one;
    # the text frames (1,209.6 M) already passed the first billion: every voice frame at $0.80 a million
    voice_frames = (turns * 0.25 * 21 + turns * 0.10 * 8 * 2) / 1e6  # 591.84 M
    assert lines["voice frames (npc.audio; npc.listen chunks and npc.listening)"] == pytest.approx(
        voice_frames * 0.80
    )
    chunks = turns * 0.10 * 8  # 69.12 M
    assert lines["npc-say per voice chunk"] == pytest.approx(
        chunks * 0.05 * 1.0 * 0.0000133334 + chunks / 1e6 * 0.20
    )
    assert lines["DynamoDB (voice chunks)"] == pytest.approx(chunks / 1e6 * 16 * 0.625)  # $691.20


def test_voice_frames_pay_the_first_billions_price_for_what_is_left_of_it(model: CostModel) -> None:
    # Given 800 players: 967.68 M text frames and 473.47 M voice frames, 1,441.15 M in all
    lines = _dollars(model, 800)
    text, voice = (
        lines["WebSocket messages"],
        lines["voice frames (npc.audio; npc.listen chunks and npc.listening)"],
    )
    turns = 800 * 2 * 60 * 24 * 30
    messages = (turns * 14 + turns * 0.25 * 21 + turns * 0.10 * 16) / 1e6
    # Then the two lines together are the first billion at $1.00 and the rest at $0.80
    assert text == pytest.approx(turns * 14 / 1e6 * 1.00)
    assert text + voice == pytest.approx(1000 * 1.00 + (messages - 1000) * 0.80)


def test_no_spoken_lines_no_transcribe_and_no_chunks(model: CostModel) -> None:
    typed = CostModel(model.assumptions.with_values({"spoken_turn_share": 0}), model.prices, model.tiers)
    lines = _dollars(typed, 1000)
    assert lines["Transcribe (spoken lines, 15 s minimum each)"] == 0
    assert lines["npc-say per voice chunk"] == 0
    assert lines["DynamoDB (voice chunks)"] == 0
    assert lines["Polly (voiced replies)"] == pytest.approx(55_296)
    silent = CostModel(
        model.assumptions.with_values({"spoken_turn_share": 0, "voiced_turn_share": 0}),
        model.prices,
        model.tiers,
    )
    assert _dollars(silent, 1000)["voice frames (npc.audio; npc.listen chunks and npc.listening)"] == 0


def test_a_line_longer_than_the_minimum_is_billed_its_length(model: CostModel) -> None:
    # Given spoken lines of 20 s (40 chunks): over Transcribe's 15 s minimum
    long = CostModel(model.assumptions.with_values({"utterance_s": 20}), model.prices, model.tiers)
    lines = _dollars(long, 1000)
    assert lines["Transcribe (spoken lines, 15 s minimum each)"] == pytest.approx(86.4e6 * 0.10 * 20 * 0.0004)
    assert lines["DynamoDB (voice chunks)"] == pytest.approx(86.4e6 * 0.10 * 40 / 1e6 * 16 * 0.625)


def test_every_line_names_figures_that_exist(model: CostModel) -> None:
    figures = set(Assumptions.model_fields)
    for item in model.report(1000).items:
        assert item.depends_on, item.item
        for name in item.depends_on:
            assert name in figures or name == "ccu" or name.startswith(("endpoints/", "prices.")), name


def test_a_what_if_moves_the_bill_and_an_unknown_figure_is_named(model: CostModel) -> None:
    faster = CostModel(model.assumptions.with_values({"gold_tokens_per_s": 150}), model.prices, model.tiers)
    assert faster.report(1000).total < model.report(1000).total
    with pytest.raises(ValueError, match="no figure named gold_speed"):
        model.assumptions.with_values({"gold_speed": 1})


@pytest.mark.parametrize(
    ("what_if", "complaint"),
    [
        ({"spoken_turn_share": 1.5}, "between 0 and 1"),
        ({"listen_chunk_s": 0}, "more than 0"),
        ({"gold_tokens_per_s": 0}, "more than 0"),
        ({"turns_per_player_minute": -1}, "0 or more"),
        ({"utterance_s": float("nan")}, "finite"),
    ],
)
def test_a_what_if_the_model_cannot_take_is_refused_with_a_reason(
    model: CostModel, what_if: dict[str, float], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        model.assumptions.with_values(what_if)


def test_the_sensitivity_of_each_unmeasured_figure(model: CostModel) -> None:
    rows = {s.figure: s for s in sensitivity(model, 1000)}
    assert rows["turns_per_player_minute"].halved < rows["turns_per_player_minute"].base
    assert rows["turns_per_player_minute"].doubled > rows["turns_per_player_minute"].base
    assert rows["gold_tokens_per_s"].doubled <= rows["gold_tokens_per_s"].base
    assert all(s.source in ("measured", "config", "estimated", "assumed") for s in rows.values())
    for share in ("voiced_turn_share", "spoken_turn_share"):
        assert rows[share].halved < rows[share].base < rows[share].doubled


def test_a_share_doubled_in_the_sensitivity_stops_at_every_turn(model: CostModel) -> None:
    # Given 60 % of replies voiced: doubled, every reply is voiced, never 120 %
    mostly = CostModel(model.assumptions.with_values({"voiced_turn_share": 0.6}), model.prices, model.tiers)
    (row,) = sensitivity(mostly, 1000, ["voiced_turn_share"])
    every = CostModel(model.assumptions.with_values({"voiced_turn_share": 1.0}), model.prices, model.tiers)
    assert row.doubled == pytest.approx(every.report(1000).per_ccu_month)


def test_the_command_prints_tables_json_and_refuses_unknown_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["cost", "--ccu", "1000"]) == 0
    out = capsys.readouterr().out
    assert "### 1,000 concurrent players" in out
    assert "### Sensitivity" in out
    assert cli.main(["cost", "--ccu", "1000", "--ccu", "10000", "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [r["ccu"] for r in reports] == [1000, 10_000]
    assert cli.main(["cost", "--ccu", "10", "--set", "gold_speed=3"]) == 2
    assert "no figure named gold_speed" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["cost", "--ccu", "10", "--set", "gold_tokens_per_s=fast"])


def test_the_readme_quotes_what_the_model_says(model: CostModel) -> None:
    readme = (REPO / "README.md").read_text()
    for ccu in (1000, 10_000):
        summary = render(model.report(ccu)).splitlines()[-1]
        assert summary.startswith("$")
        assert summary in readme, f"README: run `aicore cost --ccu 1000 --ccu 10000` and paste ({ccu})"
