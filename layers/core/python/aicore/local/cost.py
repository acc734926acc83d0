"""`aicore cost --ccu N`: the capacity and cost model (aicore.capacity) as tables, for one or more
player counts, with what-ifs (`--set gold_tokens_per_s=60`) and the sensitivity of the bill to each
figure that is not yet measured on the tiers' GPUs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aicore.capacity.model import (
    SEED_CCU_PER_TWO_GPUS,
    SEED_DOLLARS_PER_CCU_MONTH,
    CostModel,
    CostReport,
    load_assumptions,
    load_prices,
    sensitivity,
)
from aicore.llm.endpoints_config import load_endpoints
from aicore.local.lambdas import REPO_ROOT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ccu",
        type=_positive,
        action="append",
        required=True,
        metavar="N",
        help="concurrent players; repeatable",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIGURE=VALUE",
        type=_what_if,
        help="replace a figure of the assumptions (what-if); repeatable",
    )
    parser.add_argument(
        "--endpoints",
        type=Path,
        default=REPO_ROOT / "endpoints",
        help="the tier configs (default: the repository's endpoints/)",
    )
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")


def run(args: argparse.Namespace) -> int:
    try:
        assumptions = load_assumptions().with_values(dict(args.set))
    except ValueError as unknown:
        print(f"aicore cost: {unknown}")
        return 2
    model = CostModel(assumptions, load_prices(), load_endpoints(args.endpoints))
    reports = [model.report(ccu) for ccu in args.ccu]
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in reports], indent=2))
        return 0
    for report in reports:
        print(render(report))
    print(render_sensitivity(model, args.ccu[0]))
    return 0


def render(report: CostReport) -> str:
    rows = [f"| {i.item} | {i.arithmetic} | ${i.dollars:,.2f} |" for i in report.items]
    seed_low, seed_high = SEED_CCU_PER_TWO_GPUS
    return "\n".join(
        [
            f"### {report.ccu:,} concurrent players: {report.turns_per_month / 1e6:,.1f} M turns a month",
            "",
            "| item | arithmetic | per month |",
            "| --- | --- | --- |",
            *rows,
            f"| **total** | | **${report.total:,.0f}** |",
            "",
            f"${report.per_ccu_month:.2f} per concurrent player per month (seed 001: "
            f"${SEED_DOLLARS_PER_CCU_MONTH:g}), ${report.per_turn:.6f} per turn; {report.gpus} GPUs, "
            f"{report.ccu_per_two_gpus:,.0f} players per two GPUs (seed 001: {seed_low}-{seed_high}).",
            "",
        ]
    )


def render_sensitivity(model: CostModel, ccu: int) -> str:
    rows = [
        f"| {s.figure} | {s.source} | {model.assumptions.v(s.figure):g} | ${s.halved:.2f} | ${s.base:.2f} "
        f"| ${s.doubled:.2f} |"
        for s in sensitivity(model, ccu)
    ]
    return "\n".join(
        [
            f"### Sensitivity at {ccu:,} players: $ per player-month with one figure halved or doubled",
            "",
            "| figure | source | value | halved | as is | doubled |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
        ]
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _what_if(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected FIGURE=NUMBER, e.g. gold_tokens_per_s=60; got {text!r}"
        ) from None
    if number < 0:
        raise argparse.ArgumentTypeError("a figure cannot be negative")
    return name.strip(), number
