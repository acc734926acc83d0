"""The report of a QA run: JSON (everything) and a small self-contained HTML page (inline SVG, no JS).

Pass/fail per check with each failure's turn, expected and actual; latency per NPC (first token
and whole reply: count, median, p90, max, and a histogram of first-token times).
"""

from __future__ import annotations

import html
import math
import statistics
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from aicore.qa.checks import CheckResult, evaluate
from aicore.qa.records import BatchResult, QuestRecord, TurnRecord
from aicore.qa.scenario import Scenario


class Latency(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int
    median_ms: float | None
    p90_ms: float | None
    max_ms: float | None


class NpcStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    npc: str
    turns: int
    failed_turns: int
    fallbacks: int
    first_token: Latency
    total: Latency
    first_token_samples_ms: list[float]


class Report(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: str
    target: str
    started_at: str
    wall_s: float
    players: int
    turns: int
    passed: bool
    checks: list[CheckResult]
    npcs: list[NpcStats]
    quests: list[QuestRecord]
    records: list[TurnRecord]


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (`fraction` in 0..1) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def latency(values: Sequence[float]) -> Latency:
    return Latency(
        count=len(values),
        median_ms=round(statistics.median(values), 1) if values else None,
        p90_ms=percentile(values, 0.9),
        max_ms=max(values) if values else None,
    )


def npc_stats(turns: Iterable[TurnRecord]) -> list[NpcStats]:
    by_npc: dict[str, list[TurnRecord]] = {}
    for turn in turns:
        by_npc.setdefault(turn.npc, []).append(turn)
    stats = []
    for npc, records in sorted(by_npc.items()):
        answered = [t for t in records if t.error is None]
        firsts = [round(t.first_token_ms, 1) for t in answered if t.first_token_ms is not None]
        stats.append(
            NpcStats(
                npc=npc,
                turns=len(records),
                failed_turns=len(records) - len(answered),
                fallbacks=sum(1 for t in answered if t.fallback),
                first_token=latency(firsts),
                total=latency([round(t.total_ms, 1) for t in answered]),
                first_token_samples_ms=firsts,
            )
        )
    return stats


def build_report(
    scenario: Scenario, batches: Iterable[BatchResult], target: str, started_at: str, wall_s: float
) -> Report:
    merged = BatchResult()
    for batch in batches:
        merged.turns.extend(batch.turns)
        merged.quests.extend(batch.quests)
        merged.login_failures.extend(batch.login_failures)
    merged.turns.sort(key=lambda t: (t.player, t.turn))
    checks = evaluate(scenario, merged.turns, merged.quests, merged.login_failures)
    return Report(
        scenario=scenario.name,
        target=target,
        started_at=started_at,
        wall_s=round(wall_s, 2),
        players=scenario.load.players,
        turns=len(merged.turns),
        passed=all(check.passed for check in checks),
        checks=checks,
        npcs=npc_stats(merged.turns),
        quests=merged.quests,
        records=merged.turns,
    )


# --- HTML ------------------------------------------------------------------------------------------

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
.pass{color:#17692e;font-weight:bold}.fail{color:#b00020;font-weight:bold}
.failures td{font-size:12px}svg text{font:11px sans-serif}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def histogram_svg(samples: Sequence[float], *, width: int = 360, height: int = 120, bins: int = 12) -> str:
    """Bars of how many first tokens fell in each band of milliseconds; inline SVG."""
    if not samples:
        return '<svg width="360" height="20" role="img"><text x="0" y="14">no streamed turns</text></svg>'
    low, high = min(samples), max(samples)
    span = (high - low) or 1.0
    counts = [0] * bins
    for value in samples:
        counts[min(bins - 1, int((value - low) / span * bins))] += 1
    top = max(counts)
    plot_h, bar_w = height - 30, width / bins
    bars = []
    for index, count in enumerate(counts):
        bar_h = plot_h * count / top
        x, y = index * bar_w, plot_h - bar_h + 5
        bars.append(
            f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{bar_h:.1f}" fill="#4a7bd0">'
            f"<title>{count} turn(s) from {low + index * span / bins:.0f} ms</title></rect>"
        )
    axis = (
        f'<text x="0" y="{height - 8}">{low:.0f} ms</text>'
        f'<text x="{width}" y="{height - 8}" text-anchor="end">{high:.0f} ms</text>'
    )
    return (
        f'<svg width="{width}" height="{height}" role="img" aria-label="first token latency histogram">'
        + "".join(bars)
        + axis
        + "</svg>"
    )


def render_html(report: Report) -> str:
    verdict = '<span class="pass">PASSED</span>' if report.passed else '<span class="fail">FAILED</span>'
    rows = []
    for check in report.checks:
        mark = '<span class="pass">pass</span>' if check.passed else '<span class="fail">fail</span>'
        passed = f"{check.evaluated - check.failed}/{check.evaluated}"
        rows.append(
            f"<tr><td>{_e(check.check)}</td><td>{mark}</td><td>{passed}</td><td>{_e(check.description)}</td></tr>"
        )
    failures = [
        f"<tr><td>{_e(f.check)}</td><td>{_e(f.where)}</td><td>{_e(f.said or '')}</td>"
        f"<td>{_e(f.expected)}</td><td>{_e(f.actual)}</td></tr>"
        for check in report.checks
        for f in check.failures
    ]
    npcs = []
    for stats in report.npcs:
        first, total = stats.first_token, stats.total
        npcs.append(
            f"<h3>{_e(stats.npc)}</h3><p>{stats.turns} turns, {stats.failed_turns} failed, "
            f"{stats.fallbacks} fell back. First token median {_ms(first.median_ms)} ms, "
            f"p90 {_ms(first.p90_ms)} ms; whole reply median {_ms(total.median_ms)} ms, "
            f"p90 {_ms(total.p90_ms)} ms.</p>" + histogram_svg(stats.first_token_samples_ms)
        )
    failure_table = (
        "<h2>Failures</h2><table class='failures'><tr><th>check</th><th>where</th><th>player said</th>"
        "<th>expected</th><th>actual</th></tr>" + "".join(failures) + "</table>"
        if failures
        else "<p>No failures.</p>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>aicore QA: {_e(report.scenario)}</title><style>{STYLE}</style></head><body>"
        f"<h1>QA {_e(report.scenario)}: {verdict}</h1>"
        f"<p>Against {_e(report.target)} at {_e(report.started_at)}: {report.players} players, "
        f"{report.turns} turns, {report.wall_s:.1f} s.</p>"
        "<h2>Checks</h2><table><tr><th>check</th><th>result</th><th>passed</th><th>what</th></tr>"
        + "".join(rows)
        + "</table>"
        + failure_table
        + "<h2>Latency per NPC (first token)</h2>"
        + "".join(npcs)
        + "</body></html>"
    )
