"""`aicore smoke`: after a deploy (or against `make run`), play what a player does and time each step.

Steps: the unauthenticated status, a guest login (POST /auth/guest), a streamed NPC turn over the
WebSocket (`npc.say` to a demo NPC: token frames, then the reply), the session it was stored in
(GET /sessions/{id}) and the player's settings (GET /worlds/{world}/performance). Each step prints
its time in ms and ok or FAILED with why; a step whose input a failed step should have given is
skipped. The exit code is 1 when any step failed.

URLs come from `--url` (and `--ws-url`; default: the local runtime's `ws://<host>/ws`) or from the
CloudFormation outputs (`HttpUrl`, `WebSocketUrl`) of the stack `aicore-<env>` (`--env NAME`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aicore.topology import SERVICE

TIMEOUT_S = 30.0
TURN_TIMEOUT_S = 120.0  # a local CPU model, or a dev tier scaled to zero that falls back
DEFAULT_NPC = "mira"


class StepFailed(Exception):
    pass


@dataclass
class Step:
    name: str
    ok: bool | None = None  # None: skipped
    ms: float = 0.0
    detail: str = ""


@dataclass
class Smoke:
    http_url: str
    ws_url: str
    npc: str = DEFAULT_NPC
    allow_fallback: bool = False
    timeout_s: float = TIMEOUT_S
    steps: list[Step] = field(default_factory=list)
    token: str = ""
    world: str = ""
    session_id: str = ""

    def run(self) -> list[Step]:
        self._step("status", self._status)
        self._step("guest login", self._login)
        self._step("npc turn (streamed)", self._turn, needs=("guest login",))
        self._step("session read", self._session, needs=("npc turn (streamed)",))
        self._step("settings read", self._settings, needs=("guest login",))
        return self.steps

    def _step(self, name: str, action: Callable[[], str], needs: tuple[str, ...] = ()) -> None:
        step = Step(name)
        self.steps.append(step)
        failed = [s.name for s in self.steps if s.name in needs and not s.ok]
        if failed:
            step.detail = f"skipped: {', '.join(failed)} did not pass"
            return
        started = time.perf_counter()
        try:
            step.detail = action()
            step.ok = True
        except Exception as exc:  # a step reports what broke it (refused, closed, timed out, odd answer)
            step.ok, step.detail = (
                False,
                f"{type(exc).__name__}: {exc}" if not isinstance(exc, StepFailed) else str(exc),
            )
        step.ms = (time.perf_counter() - started) * 1000

    def _status(self) -> str:
        body = self._http("GET", "/status")
        return f"version {body['data'].get('version')}"

    def _login(self) -> str:
        device = f"aicore-smoke-{secrets.token_hex(12)}"
        data = self._http("POST", "/auth/guest", {"device_id": device})["data"]
        self.token, self.world = data["access_token"], data["world_id"]
        return f"player {data['player_id']} in world {self.world}"

    def _turn(self) -> str:
        return asyncio.run(asyncio.wait_for(self._say(), TURN_TIMEOUT_S))

    async def _say(self) -> str:
        import websockets

        separator = "&" if "?" in self.ws_url else "?"
        url = f"{self.ws_url}{separator}token={urllib.parse.quote(self.token)}"
        frame = {"action": "npc.say", "request_id": "smoke-1", "npc_id": self.npc, "text": "Hello there!"}
        tokens = 0
        first_token_ms: float | None = None
        started = time.perf_counter()
        async with websockets.connect(url, max_size=None, open_timeout=self.timeout_s) as ws:
            await ws.send(json.dumps(frame))
            while True:
                answer = json.loads(await ws.recv())
                if answer.get("type") == "npc.token":
                    tokens += 1
                    first_token_ms = first_token_ms or (time.perf_counter() - started) * 1000
                    continue
                break
        if answer.get("type") != "npc.reply" or not answer.get("ok"):
            raise StepFailed(f"answered {_error(answer)}")
        data = answer["data"]
        self.session_id = data["session_id"]
        said = f"{tokens} token frames, first after {first_token_ms or 0:.0f} ms, tier {data['tier']}"
        if data.get("fallback") and not self.allow_fallback:
            raise StepFailed(f"no model answered ({data.get('fallback_reason')}): {said}")
        if tokens == 0 and not data.get("fallback"):
            raise StepFailed(f"the reply did not stream: {said}")
        return said

    def _session(self) -> str:
        data = self._http("GET", f"/sessions/{urllib.parse.quote(self.session_id)}")["data"]
        count = len(data.get("messages", []))
        if count < 2:
            raise StepFailed(f"the session holds {count} messages; the turn's two are missing")
        return f"session {self.session_id}: {count} messages"

    def _settings(self) -> str:
        data = self._http("GET", f"/worlds/{urllib.parse.quote(self.world)}/performance")["data"]
        return f"mode {data['effective']}, first token budget {data['first_token_budget_ms']} ms"

    def _http(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "User-Agent": f"{SERVICE}-smoke"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.http_url.rstrip("/") + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                answer: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise StepFailed(f"{method} {path}: HTTP {error.code} {_error(_json(error.read()))}") from None
        if not answer.get("ok"):
            raise StepFailed(f"{method} {path}: {_error(answer)}")
        return answer


def _json(raw: bytes) -> dict[str, Any]:
    try:
        found = json.loads(raw)
    except ValueError:
        return {"message": raw[:200].decode("utf-8", "replace")}
    return found if isinstance(found, dict) else {"message": str(found)[:200]}


def _error(answer: dict[str, Any]) -> str:
    error = answer.get("error") or {}
    if isinstance(error, dict) and error.get("code"):
        return f"{error['code']}: {error.get('message', '')}"
    return str(answer.get("message") or answer)[:200]


def table(steps: list[Step]) -> str:
    width = max(len(s.name) for s in steps)
    lines = [f"{'step'.ljust(width)}  {'ms':>8}  result  detail"]
    for s in steps:
        result = "skip" if s.ok is None else ("ok" if s.ok else "FAILED")
        ms = "" if s.ok is None else f"{s.ms:.0f}"
        lines.append(f"{s.name.ljust(width)}  {ms:>8}  {result:<6}  {s.detail}")
    return "\n".join(lines)


def stack_urls(env: str, region: str | None, profile: str | None) -> tuple[str, str]:
    """HttpUrl and WebSocketUrl from the outputs of the stack `aicore-<env>`."""
    import boto3

    session = boto3.session.Session(region_name=region, profile_name=profile)
    stacks = session.client("cloudformation").describe_stacks(StackName=f"{SERVICE}-{env}")["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [k for k in ("HttpUrl", "WebSocketUrl") if k not in outputs]
    if missing:
        raise StepFailed(f"stack {SERVICE}-{env} has no output {', '.join(missing)}: is it deployed?")
    return outputs["HttpUrl"], outputs["WebSocketUrl"]


def local_ws_url(http_url: str) -> str:
    """The local runtime serves its WebSocket at /ws on the same host and port."""
    parts = urllib.parse.urlsplit(http_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urllib.parse.urlunsplit((scheme, parts.netloc, "/ws", "", ""))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", help="the HTTP API URL (default: http://127.0.0.1:8000, `make run`)")
    where.add_argument("--env", help="a deployed environment: URLs from the stack aicore-<env>'s outputs")
    parser.add_argument("--ws-url", help="the WebSocket URL (default: <url>/ws, as `aicore local` serves it)")
    parser.add_argument("--region", help="with --env: the stack's region (default: your AWS config)")
    parser.add_argument("--profile", help="with --env: the AWS profile")
    parser.add_argument("--npc", default=DEFAULT_NPC, help="the NPC to talk to (default: %(default)s)")
    parser.add_argument(
        "--allow-fallback",
        action="store_true",
        help="a scripted line (no model answered, e.g. a dev tier scaled to zero) passes the turn",
    )


def run(args: argparse.Namespace) -> int:
    try:
        if args.env:
            http_url, ws_url = stack_urls(args.env, args.region, args.profile)
        else:
            http_url = args.url or "http://127.0.0.1:8000"
            ws_url = args.ws_url or local_ws_url(http_url)
    except Exception as exc:  # credentials, a missing stack: one line, no traceback
        print(f"aicore smoke: cannot find the environment's URLs: {exc}", file=sys.stderr)
        return 1
    print(f"aicore smoke against {http_url} and {ws_url}")
    steps = Smoke(http_url, args.ws_url or ws_url, npc=args.npc, allow_fallback=args.allow_fallback).run()
    print(table(steps))
    failed = [s for s in steps if not s.ok]
    print("all steps passed" if not failed else f"{len(failed)} of {len(steps)} steps did not pass")
    return 1 if failed else 0
