"""The `aicore` command: `local` runs the backend on loopback, `token` prints a player token,
`chat` talks to an NPC in the terminal, `smoke` plays a player's first minute against an environment
and times it, `doctor` checks an AWS account before a deploy (it parses its own flags), `analytics`
runs the saved queries locally."""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING

from aicore.auth import Role
from aicore.identity.tokens import DEVELOPMENT_TTL_S
from aicore.local.budget import (
    DEADLINE_SCALE_VARIABLE,
    DEFAULT_DEADLINE_SCALE,
    deadline_scale_from_environment,
    first_token_deadlines_s,
    parse_deadline_scale,
)

if TYPE_CHECKING:
    from aicore.local.runtime import LocalRuntime, RuntimeOptions

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def aicore_version() -> str:
    try:
        return version("aicore")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aicore", description="aicore: the game's AI backend.")
    parser.add_argument("--version", action="version", version=f"aicore {aicore_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    local = commands.add_parser(
        "local",
        help="run the whole backend on loopback",
        description="Run the whole backend on loopback: embedded AWS, the local model, the gateway "
        "and the console page. Ctrl-C (or SIGTERM) stops it.",
    )
    local.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    local.add_argument(
        "--port", type=_port, default=8000, help="gateway port, HTTP and WebSocket (default: %(default)s)"
    )
    local.add_argument(
        "--model-port", type=_port, default=0, help="local model server port (default: 0, any free port)"
    )
    local.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default="WARNING",
        help="level of the handlers' JSON log lines on stdout (default: %(default)s)",
    )
    local.add_argument(
        "--deadline-scale",
        type=_deadline_scale,
        default=None,
        metavar="N",
        help="how much longer than on the tiers' GPUs the local CPU model may take to start a "
        f"reply before the NPC falls back to a scripted line: gold's 100 ms budget times N "
        f"(default: ${DEADLINE_SCALE_VARIABLE} or {DEFAULT_DEADLINE_SCALE:g}, i.e. 10 s; raise it "
        "on a busy or slow machine)",
    )
    local.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="PATH",
        help="keep tables and objects in PATH, across stops, crashes and reboots (default: in "
        "memory, gone at stop)",
    )

    token = commands.add_parser(
        "token",
        help="print a JWT signed with the local development key",
        description=f"Print a JWT for `aicore local`, valid {DEVELOPMENT_TTL_S // 3600} hours.",
    )
    token.add_argument("--player", required=True, help="the player id (the token's subject)")
    token.add_argument("--world", default="demo", help="the world the token is for (default: %(default)s)")
    token.add_argument(
        "--role",
        action="append",
        choices=[r.value for r in Role],
        help="a role of the token; repeatable (default: player)",
    )

    world = commands.add_parser("world", help="world content: push a world's folder to an environment")
    world_commands = world.add_subparsers(
        dest="world_command", required=True, metavar="WORLD_COMMAND", help="push: load a world's folder"
    )
    push = world_commands.add_parser(
        "push",
        help="validate a world's folder and load it into an environment (versioned, with a diff)",
        description="Validate a world's folder (worlds/<world>/) and load it into an environment through "
        "POST /worlds/{world}/content: prints what it adds (+), changes (~) and removes (-).",
    )
    push.add_argument("path", type=Path, help="the world's folder, e.g. worlds/demo")
    push.add_argument("--dry-run", action="store_true", help="show the diff, change nothing")
    push.add_argument(
        "--url", default="http://127.0.0.1:8000", help="the environment's HTTP API (default: %(default)s)"
    )
    push.add_argument(
        "--token",
        default=None,
        help="a studio token of the world (default: one signed with the local development key, "
        "which only `aicore local` accepts)",
    )

    commands.add_parser("doctor", help="preflight checks before `cdk deploy` (aicore doctor --help)")

    chat = commands.add_parser(
        "chat",
        help="talk to an NPC in the terminal (streamed, through the aicore-client library)",
        description="Talk to an NPC over the WebSocket API: pick one, type lines, watch the reply "
        "stream in. /npc ID talks to another, /quit leaves. Needs aicore-client (clients/python).",
    )
    _chat_arguments(chat)
    analytics = commands.add_parser(
        "analytics", help="the local analytics store: list the saved queries, run one (DuckDB)"
    )
    analytics_commands = analytics.add_subparsers(
        dest="analytics_command",
        required=True,
        metavar="ANALYTICS_COMMAND",
        help="list: the saved queries; query NAME: run one",
    )
    analytics_commands.add_parser("list", help="the saved queries (the same as Athena's named queries)")
    query = analytics_commands.add_parser(
        "query",
        help="run a saved query over the events `aicore local` wrote, print a table",
        description="Run a saved query (aicore analytics list) with DuckDB over the analytics events "
        "of `aicore local`: its --data-dir's analytics/ folder, or without one a temporary folder "
        "per port (the banner names it).",
    )
    query.add_argument("name", help="the saved query, e.g. turns_per_npc_per_day")
    query.add_argument(
        "--dir",
        type=Path,
        default=None,
        metavar="PATH",
        help="the analytics folder (default: that of `aicore local` in memory on port 8000)",
    )

    from aicore.local import smoke

    smoke.add_arguments(
        commands.add_parser(
            "smoke",
            help="play a guest login, a streamed NPC turn, a session and a settings read; time each",
            description="Against a deployed environment (--env NAME) or `make run` (--url): a guest "
            "login, a streamed NPC turn, a session read and a settings read, each step timed. Exit "
            "code 1 if any step fails.",
        )
    )
    from aicore.local import qa

    qa.add_arguments(
        commands.add_parser(
            "qa",
            help="synthetic players run a QA scenario against an environment; a report of its checks",
            description="`aicore qa run SCENARIO --url URL`: synthetic players over the public "
            "protocol, persona, budget and world checks, a JSON and HTML report. Exit code 1 if a "
            "check fails.",
        )
    )
    from aicore.local import cost

    cost.add_arguments(
        commands.add_parser(
            "cost",
            help="what N concurrent players need and cost a month (the capacity and cost model)",
            description="The capacity and cost model: GPU instances from the tier configs, per-turn "
            "figures from aicore/capacity/assumptions.json, AWS prices from prices.json.",
        )
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["doctor"]:  # doctor has its own parser and flags
        from aicore.local.doctor import main as doctor

        return int(doctor(arguments[1:]))
    parser = build_parser()
    args = parser.parse_args(arguments)  # an unknown flag: usage, and exit code 2
    if args.command == "local":
        if args.deadline_scale is None:
            args.deadline_scale = _deadline_scale_from_environment(parser)
        return run_local(args)
    if args.command == "world":
        return world_push(args)
    if args.command == "analytics":
        return analytics(args)
    if args.command == "smoke":
        from aicore.local import smoke

        return smoke.run(args)
    if args.command == "qa":
        from aicore.local import qa

        return qa.run(args)
    if args.command == "cost":
        from aicore.local import cost

        return cost.run(args)
    if args.command == "chat":
        return run_chat(args)
    from aicore.local.runtime import local_token

    print(local_token(args.player, args.world, tuple(Role(r) for r in (args.role or ["player"]))))
    return 0


def run_local(args: argparse.Namespace) -> int:
    """Runs until SIGINT or SIGTERM, then stops within a bound and ends the process (`os._exit`).

    Ending the process rather than returning: a handler still busy in a pool thread is abandoned,
    as Lambda freezes a sandbox, instead of being waited for by the interpreter's exit.
    """
    from aicore.local.gateway import PortInUse, port_in_use
    from aicore.local.persistence import DataDirInUse
    from aicore.local.runtime import LocalRuntime, RuntimeOptions
    from aicore.local.stopping import StopSignals

    for port, flag in ((args.port, "--port"), (args.model_port, "--model-port")):
        if port and port_in_use(args.host, port):
            return _refuse(f"{PortInUse(args.host, port)}".replace("--port", flag))
    options = RuntimeOptions(
        host=args.host,
        port=args.port,
        model_port=args.model_port,
        log_level=args.log_level,
        deadline_scale=args.deadline_scale,
        data_dir=args.data_dir.expanduser().resolve() if args.data_dir else None,
    )
    try:
        runtime = LocalRuntime(options)
    except FileNotFoundError as missing:  # the model package: `make setup` installs it
        return _refuse(str(missing))
    with StopSignals(on_repeat=lambda signum: _exit_now(128 + signum)) as signals:
        try:
            with signals.blocked():  # the runtime's threads never take a stop signal from the main thread
                runtime.start()
        except (PortInUse, DataDirInUse) as refused:
            return _refuse(str(refused))
        print(banner(runtime, options), flush=True)
        signals.wait()
        print("Stopping… (press Ctrl-C again to quit at once)", flush=True)
        abandoned = runtime.stop()
    print(
        f"aicore local stopped; still busy and abandoned: {', '.join(abandoned)}."
        if abandoned
        else "aicore local stopped.",
        flush=True,
    )
    _exit_now(0)
    return 0  # not reached


def world_push(args: argparse.Namespace) -> int:
    """`aicore world push PATH [--dry-run]`: 0 when the environment took (or would take) it, 1 if not."""
    from aicore.local.runtime import local_token
    from aicore.local.world_files import WorldFilesError, load_world_folder
    from aicore.local.world_push import PushRefused, describe, push_content

    try:
        content = load_world_folder(args.path)
    except WorldFilesError as invalid:
        print(f"aicore world push: {invalid}", file=sys.stderr, flush=True)
        return 1
    world_id = content.world.world_id
    token = args.token or local_token("aicore-world-push", world_id, (Role.STUDIO,))
    try:
        plan = push_content(args.url, content, token, dry_run=args.dry_run)
    except PushRefused as refused:
        print(f"aicore world push: {args.url} refused the push: {refused}", file=sys.stderr, flush=True)
        return 1
    except OSError as unreachable:
        print(f"aicore world push: cannot reach {args.url}: {unreachable}", file=sys.stderr, flush=True)
        return 1
    print(describe(plan), flush=True)
    return 0


def _chat_arguments(parser: argparse.ArgumentParser) -> None:
    try:
        from aicore.local import chat
    except ImportError:  # aicore-client is not installed: the command says so when run
        parser.add_argument("rest", nargs=argparse.REMAINDER, help="(aicore-client is not installed)")
        return
    chat.add_arguments(parser)


def run_chat(args: argparse.Namespace) -> int:
    try:
        from aicore.local import chat
    except ImportError:
        missing = "aicore chat needs aicore-client: pip install -e clients/python (make setup does)"
        print(missing, file=sys.stderr)
        return 1
    return chat.run(args)


def analytics(args: argparse.Namespace) -> int:
    """`aicore analytics list` and `aicore analytics query NAME [--dir PATH]`: 0, or 1 with the reason."""
    from aicore.analytics.queries import UnknownQuery, saved_queries, saved_query
    from aicore.local.analytics import default_folder, run_query

    if args.analytics_command == "list":
        for saved in saved_queries():
            print(f"{saved.name}\n    {saved.description}", flush=True)
        return 0
    try:
        query = saved_query(args.name)
    except UnknownQuery as unknown:
        print(f"aicore analytics: {unknown}", file=sys.stderr, flush=True)
        return 1
    folder = args.dir.expanduser().resolve() if args.dir else default_folder()
    if not folder.is_dir():
        print(
            f"aicore analytics: {folder} is not a folder: start `aicore local` first, or name its "
            "analytics folder with --dir",
            file=sys.stderr,
            flush=True,
        )
        return 1
    print(run_query(folder, query).table(), flush=True)
    return 0


def banner(runtime: LocalRuntime, options: RuntimeOptions) -> str:
    from aicore.local.game_time import CLOCK_PATH
    from aicore.local.gateway import HEALTH_PATH

    base = f"http://{options.host}:{options.port}"
    gold_s, silver_s = first_token_deadlines_s(options.deadline_scale)
    if options.data_dir is None:
        state = "in memory: gone at stop (keep it with --data-dir PATH)"
    else:
        restored = runtime.restored
        replayed = f"{restored.replayed} writes restored in {restored.seconds:.1f} s" if restored else ""
        state = f"{options.data_dir} ({replayed})"
    return (
        f"aicore local is ready in {runtime.started_in_s:.1f} s\n"
        f"  console    {base}/   (talk to the NPCs in a browser)\n"
        f"  HTTP API   {base}/worlds/demo/npcs   (Authorization: Bearer <token>)\n"
        f"  WebSocket  ws://{options.host}:{options.port}/ws?token=<token>\n"
        f"  health     {base}{HEALTH_PATH}\n"
        f'  game time  {base}{CLOCK_PATH}   (jump ahead: POST {{"advance_hours": 72}})\n'
        f"  AWS (moto) {runtime.aws.url}\n"
        f"  models     {runtime.model.url}   (fault injection: POST {runtime.model.url}/_aicore/faults)\n"
        f"  deadlines  first token within {gold_s:g} s (gold), {silver_s:g} s (silver), "
        f"else a scripted line (--deadline-scale {options.deadline_scale:g})\n"
        f"  state      {state}\n"
        f"  analytics  {runtime.analytics_folder}   (aicore analytics query NAME --dir PATH)\n"
        f"  logs       JSON lines on stdout, level {options.log_level} (--log-level)\n"
        f"  token      {runtime.console_token}\n"
        f"  (player-1 in world demo, valid {DEVELOPMENT_TTL_S // 3600} h; more with: "
        ".venv/bin/aicore token --player NAME --world demo)\n"
        "Ctrl-C (or SIGTERM) stops it."
    )


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is between 0 and 65535, not {port}")
    return port


def _deadline_scale(value: str) -> float:
    try:
        return parse_deadline_scale(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _deadline_scale_from_environment(parser: argparse.ArgumentParser) -> float:
    try:
        return deadline_scale_from_environment()
    except ValueError as error:
        parser.error(f"{DEADLINE_SCALE_VARIABLE}: {error}")


def _refuse(message: str) -> int:
    print(f"aicore local: {message}", file=sys.stderr, flush=True)
    return 1


def _exit_now(code: int = 1) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
