"""`aicore qa run SCENARIO`: synthetic players run a scenario (qa/scenarios/*.yaml) and a report says
what held.

`--url` (default http://127.0.0.1:8000, `make run`): the players run in this process, batch by
batch as the flow's map would run them, and the report (JSON + HTML) is written under `--out`.
The exit code is 1 when a check fails (2 when the scenario cannot be read).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sys
import time
from pathlib import Path
from typing import Any

from aicore.qa.players import Environment, run_batch
from aicore.qa.report import Report, build_report, render_html
from aicore.qa.scenario import Scenario, ScenarioError, parse_scenario

DEFAULT_OUT = Path("build/qa")


def load_scenario(path: Path) -> Scenario:
    """A scenario file (YAML or JSON); `ScenarioError` names the file and each bad field."""
    import yaml

    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioError(f"{path}: cannot read it ({error.strerror})") from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ScenarioError(f"{path}: not valid YAML{line}") from None
    return parse_scenario(data, str(path))


async def run_in_process(scenario: Scenario, env: Environment) -> Report:
    """Every batch of the scenario concurrently (as the Distributed Map runs them), then the report."""
    started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    started = time.monotonic()
    batches = await asyncio.gather(*(run_batch(scenario, env, batch) for batch in scenario.batches()))
    return build_report(scenario, batches, env.http_url, started_at, time.monotonic() - started)


def write_report(report: Report, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{report.scenario}-{report.started_at.replace(':', '').replace('+0000', 'Z')}"
    json_path, html_path = out / f"{stem}.json", out / f"{stem}.html"
    json_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    return json_path, html_path


def summary(report: Report) -> str:
    lines = [f"{'check':<22} result  passed"]
    for check in report.checks:
        result = "ok" if check.passed else "FAILED"
        lines.append(f"{check.check:<22} {result:<6}  {check.evaluated - check.failed}/{check.evaluated}")
        lines.extend(f"  {f.where}: expected {f.expected}, got {f.actual}" for f in check.failures[:5])
    for npc in report.npcs:
        lines.append(
            f"{npc.npc}: {npc.turns} turns ({npc.fallbacks} scripted fallbacks, {npc.failed_turns} failed), "
            f"first token median {npc.first_token.median_ms} ms "
            f"(p90 {npc.first_token.p90_ms}), whole reply median {npc.total.median_ms} ms"
        )
    lines.append(
        f"{report.players} players, {report.turns} turns in {report.wall_s:.1f} s: "
        + ("all checks passed" if report.passed else "checks FAILED")
    )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(
        dest="qa_command", required=True, metavar="COMMAND", help="run: a scenario"
    )
    run = commands.add_parser("run", help="run a scenario's synthetic players and write the report")
    run.add_argument("scenario", type=Path, help="a scenario file, e.g. qa/scenarios/smoke.yaml")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--url", help="the HTTP API URL (default: http://127.0.0.1:8000, `make run`)")
    where.add_argument(
        "--env",
        help="a deployed environment: its qa-run flow runs the players (stack aicore-<env>'s outputs); "
        "the report goes to its QA reports bucket",
    )
    run.add_argument("--region", help="with --env: the stack's region (default: your AWS config)")
    run.add_argument("--profile", help="with --env: the AWS profile")
    run.add_argument("--ws-url", help="the WebSocket URL (default: <url>/ws, as `aicore local` serves it)")
    run.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="where the report goes (default: %(default)s)"
    )
    run.add_argument("--players", type=int, help="override the scenario's load.players")
    run.add_argument(
        "--game-server-token",
        help="a game_server token for the quest checks (default against `aicore local`: one signed "
        "with the local development key)",
    )


def run(args: argparse.Namespace) -> int:
    from aicore.local.smoke import local_ws_url

    try:
        scenario = load_scenario(args.scenario)
        if args.players is not None:
            scenario = parse_scenario(
                scenario.model_dump(mode="json")
                | {"load": scenario.load.model_dump() | {"players": args.players}},
                str(args.scenario),
            )
    except ScenarioError as error:
        print(f"aicore qa: {error}", file=sys.stderr)
        return 2
    if args.env:
        return _run_in_cloud(scenario, args)
    http_url = args.url or "http://127.0.0.1:8000"
    env = Environment(http_url, args.ws_url or local_ws_url(http_url), _game_server_token(args, scenario))
    print(f"aicore qa: {scenario.name}, {scenario.load.players} players against {http_url}", flush=True)
    report = asyncio.run(run_in_process(scenario, env))
    json_path, html_path = write_report(report, args.out)
    print(summary(report))
    print(f"report: {json_path} and {html_path}")
    return 0 if report.passed else 1


def _game_server_token(args: argparse.Namespace, scenario: Scenario) -> str | None:
    if args.game_server_token or not scenario.quests:
        return str(args.game_server_token) if args.game_server_token else None
    from aicore.auth import Role
    from aicore.local.runtime import local_token

    return local_token("aicore-qa", "demo", (Role.GAME_SERVER,))


def _run_in_cloud(scenario: Scenario, args: argparse.Namespace) -> int:
    from aicore.local.qa_cloud import FlowFailed, new_run_id, run_flow, stack_target, where

    try:
        target, stepfunctions = stack_target(args.env, args.region, args.profile)
        run_id = new_run_id(scenario, datetime.datetime.now(datetime.UTC))
        print(
            f"aicore qa: {scenario.name}, {scenario.load.players} players against {target.http_url}, "
            f"run {run_id} (flow {target.state_machine_arn})",
            flush=True,
        )
        written = run_flow(stepfunctions, scenario, target, run_id)
    except FlowFailed as failure:
        print(f"aicore qa: {failure}", file=sys.stderr)
        return 1
    except Exception as exc:  # credentials, a missing stack: one line, no traceback
        print(f"aicore qa: cannot run the flow in {args.env}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    verdict = "all checks passed" if written.passed else f"checks FAILED: {', '.join(written.failed_checks)}"
    print(f"{verdict}\nreport: {where(written)}")
    return 0 if written.passed else 1
