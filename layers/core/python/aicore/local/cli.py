"""The `aicore` command: `local` runs the backend on loopback, `token` prints a player token."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from aicore.auth import Role


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aicore", description="aicore: the game's AI backend.")
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="run the whole backend on loopback")
    local.add_argument("--host", default="127.0.0.1")
    local.add_argument("--port", type=int, default=8000, help="gateway port (HTTP and WebSocket)")
    local.add_argument("--model-port", type=int, default=0, help="local model server port (0: any free port)")
    local.add_argument("--log-level", default="WARNING", help="handler log level (DEBUG, INFO, WARNING)")

    token = commands.add_parser("token", help="print a JWT signed with the local development key")
    token.add_argument("--player", required=True)
    token.add_argument("--world", default="demo")
    token.add_argument(
        "--role", action="append", choices=[r.value for r in Role], help="repeatable; default player"
    )

    commands.add_parser("doctor", help="preflight checks before `cdk deploy`", add_help=False)

    args, rest = parser.parse_known_args(argv)
    if args.command == "local":
        return run_local(args)
    if args.command == "token":
        from aicore.local.runtime import local_token

        print(local_token(args.player, args.world, tuple(Role(r) for r in (args.role or ["player"]))))
        return 0
    from aicore.local.doctor import main as doctor

    return int(doctor(rest))


def run_local(args: argparse.Namespace) -> int:
    from aicore.local.runtime import LocalRuntime, RuntimeOptions

    runtime = LocalRuntime(
        RuntimeOptions(
            host=args.host, port=args.port, model_port=args.model_port, log_level=args.log_level.upper()
        )
    )
    runtime.start()
    base = f"http://{args.host}:{args.port}"
    token = runtime.console_token
    print(
        f"aicore local is ready in {runtime.started_in_s:.1f} s\n"
        f"  console    {base}/   (talk to the NPCs in a browser)\n"
        f"  HTTP API   {base}/worlds/demo/npcs   (Authorization: Bearer <token>)\n"
        f"  WebSocket  ws://{args.host}:{args.port}/ws?token=<token>\n"
        f"  AWS (moto) {runtime.aws.url}\n"
        f"  models     {runtime.model.url}   (fault injection: POST {runtime.model.url}/_aicore/faults)\n"
        f"  token      {token}\n"
        f"  (player-1 in world demo; more with: aicore token --player NAME --world demo)\n"
        "Ctrl-C stops it.",
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    runtime.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
