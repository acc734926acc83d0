"""Synthetic players: each logs in as a guest over HTTP and talks over the WebSocket with the SDK.

Only the public protocol is used (what a game client has): `POST /auth/guest`, the `aicore_client`
SDK (`connection.hello`, `npc.say` streamed), and for the world checks the quest routes a player
has. Reporting objectives is a game server's right, so a quest check needs a `game_server` token
(`Environment.game_server_token`); without one the quest check is recorded as not run, with why.

Every turn is recorded as the player saw it (first token and whole reply, in ms of the injected
clock) and judged later by `aicore.qa.checks`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aicore.qa.records import BatchResult, QuestRecord, TurnRecord
from aicore.qa.scenario import QuestCheck, Scenario

HTTP_TIMEOUT_S = 30.0
TURN_TIMEOUT_S = 300.0
USER_AGENT = "aicore-qa"
QUEST_POLL_S = 1.0
MAX_TEXT_RECORDED = 2000

Clock = Callable[[], float]  # seconds, monotonic
Sleep = Callable[[float], Awaitable[None]]
# (base URL, method, path, body, bearer token) -> the envelope's data; raises HttpFailure
HttpCall = Callable[[str, str, str, object, str | None], dict[str, Any]]


class HttpFailure(Exception):
    """An HTTP call that did not answer `ok`; the message says the route, the status and the code."""


@dataclass(frozen=True)
class Environment:
    """Where the players play: the public URLs; a `game_server` token only for the quest checks."""

    http_url: str
    ws_url: str
    game_server_token: str | None = None


def http_json(
    base: str, method: str, path: str, body: object = None, token: str | None = None
) -> dict[str, Any]:
    """One call to the HTTP API; the envelope's `data`, or `HttpFailure` saying what went wrong."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base.rstrip("/") + path, data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise HttpFailure(f"{method} {path}: HTTP {error.code} {_error_of(error.read())}") from None
    except (urllib.error.URLError, OSError) as error:
        raise HttpFailure(f"{method} {path}: {error}") from None
    if not isinstance(answer, dict) or not answer.get("ok"):
        raise HttpFailure(f"{method} {path}: {_error_of(json.dumps(answer).encode())}")
    found: dict[str, Any] = answer.get("data") or {}
    return found


def _error_of(raw: bytes) -> str:
    try:
        answer = json.loads(raw)
    except ValueError:
        return raw[:200].decode("utf-8", "replace")
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict) and error.get("code"):
        return f"{error['code']}: {error.get('message', '')}"[:300]
    return str(answer.get("message") if isinstance(answer, dict) else answer)[:200]


@dataclass(frozen=True)
class Guest:
    player_id: str
    world_id: str
    token: str


async def login(env: Environment) -> Guest:
    device = f"aicore-qa-{secrets.token_hex(12)}"
    data = await asyncio.to_thread(http_json, env.http_url, "POST", "/auth/guest", {"device_id": device})
    return Guest(data["player_id"], data["world_id"], data["access_token"])


async def play_turns(
    scenario: Scenario, env: Environment, player: int, guest: Guest, clock: Clock = time.monotonic
) -> list[TurnRecord]:
    """The player's lines, one turn after another, over one SDK connection."""
    from aicore_client import connect  # the SDK (clients/python): not needed to judge or report

    records: list[TurnRecord] = []
    lines = scenario.lines_of_player()
    try:
        client = await connect(env.ws_url, guest.token, turn_timeout_s=TURN_TIMEOUT_S)
    except Exception as exc:  # a refused handshake or a dead host fails each of its turns, said once
        failure = f"could not connect: {type(exc).__name__}: {exc}"
        return [_failed(player, n, line.npc, line.text, failure) for n, line in enumerate(lines, 1)]
    async with client:
        for number, line in enumerate(lines, 1):
            records.append(await _turn(client, player, number, line.npc, line.text, clock))
    return records


async def _turn(client: Any, player: int, number: int, npc: str, text: str, clock: Clock) -> TurnRecord:
    started = clock()
    first_token_ms: float | None = None
    tokens = 0
    try:
        turn = await client.say(npc, text)
        async for _piece in turn.tokens():
            tokens += 1
            if first_token_ms is None:
                first_token_ms = (clock() - started) * 1000
        reply = await turn.reply()
    except Exception as exc:  # the SDK's AicoreError, ConnectionLost, TimeoutError: what the player saw
        code = getattr(exc, "code", None)
        failure = f"{code}: {exc}" if code else f"{type(exc).__name__}: {exc}"
        return _failed(player, number, npc, text, failure, (clock() - started) * 1000)
    return TurnRecord(
        player=player,
        turn=number,
        npc=npc,
        said=text,
        reply=reply.text[:MAX_TEXT_RECORDED],
        tier=reply.tier,
        fallback=reply.fallback,
        fallback_reason=reply.fallback_reason,
        tokens=tokens,
        first_token_ms=first_token_ms,
        total_ms=(clock() - started) * 1000,
        session_id=reply.session_id,
    )


def _failed(player: int, number: int, npc: str, text: str, error: str, total_ms: float = 0.0) -> TurnRecord:
    return TurnRecord(player=player, turn=number, npc=npc, said=text, total_ms=total_ms, error=error[:500])


async def complete_quest(
    check: QuestCheck,
    env: Environment,
    player: int,
    guest: Guest,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    http: HttpCall = http_json,
) -> QuestRecord:
    """The giver's offered quest: accepted, every objective reported, then read until completed."""
    steps: list[str] = []

    def record(
        state: str | None = None, error: str | None = None, quest_id: str | None = None
    ) -> QuestRecord:
        return QuestRecord(
            player=player, giver=check.giver, quest_id=quest_id, steps=steps, state=state, error=error
        )

    if env.game_server_token is None:
        return record(error="not run: reporting objectives needs a game_server token (--game-server-token)")
    deadline = clock() + check.complete_within_s
    quest_id: str | None = None
    try:
        quest = await _offered(check.giver, env, guest, deadline, clock, sleep, http)
        if quest is None:
            return record(
                error=f"no quest of {check.giver} was offered within {check.complete_within_s:.0f} s"
            )
        quest_id = str(quest["quest_id"])
        steps.append("offered")
        await asyncio.to_thread(
            http, env.http_url, "POST", f"/players/me/quests/{_q(quest_id)}/accept", {}, guest.token
        )
        steps.append("accepted")
        for objective in quest["objectives"]:
            report = {
                "report_id": f"qa-{quest_id}-{objective['objective_id']}"[:128],
                "kind": objective["kind"],
                "target": objective["target"],
                "count": objective["count"],
            }
            path = f"/worlds/{_q(guest.world_id)}/players/{_q(guest.player_id)}/objectives"
            await asyncio.to_thread(http, env.http_url, "POST", path, report, env.game_server_token)
            steps.append(f"reported {objective['objective_id']}")
        state = await _state_when(quest_id, "completed", env, guest, deadline, clock, sleep, http)
    except HttpFailure as failure:
        return record(error=str(failure), quest_id=quest_id)
    if state == "completed":
        steps.append("completed")
    return record(state=state, quest_id=quest_id)


async def _quests(env: Environment, guest: Guest, http: HttpCall) -> list[dict[str, Any]]:
    data = await asyncio.to_thread(http, env.http_url, "GET", "/players/me/quests", None, guest.token)
    return list(data.get("quests", []))


async def _offered(
    giver: str, env: Environment, guest: Guest, deadline: float, clock: Clock, sleep: Sleep, http: HttpCall
) -> dict[str, Any] | None:
    while True:
        found = [
            q for q in await _quests(env, guest, http) if q["npc_id"] == giver and q["state"] == "offered"
        ]
        if found:
            return found[0]
        if clock() >= deadline:
            return None
        await sleep(QUEST_POLL_S)


async def _state_when(
    quest_id: str,
    wanted: str,
    env: Environment,
    guest: Guest,
    deadline: float,
    clock: Clock,
    sleep: Sleep,
    http: HttpCall,
) -> str | None:
    while True:
        quests = await _quests(env, guest, http)
        state: str | None = next((q["state"] for q in quests if q["quest_id"] == quest_id), None)
        if state == wanted or clock() >= deadline:
            return state
        await sleep(QUEST_POLL_S)


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


async def run_batch(
    scenario: Scenario,
    env: Environment,
    players: Sequence[int],
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> BatchResult:
    """A batch of players, all at once, each starting at its place on the ramp."""
    result = BatchResult()
    step_s = scenario.load.ramp_s / scenario.load.players

    async def one(player: int) -> None:
        await sleep(player * step_s)
        try:
            guest = await login(env)
        except HttpFailure as failure:
            result.login_failures.append(f"player {player}: {failure}")
            return
        result.turns.extend(await play_turns(scenario, env, player, guest, clock))
        if player == 0:  # the world checks: once a run, by its first player
            for check in scenario.quests:
                result.quests.append(await complete_quest(check, env, player, guest, clock, sleep))

    await asyncio.gather(*(one(player) for player in players))
    result.turns.sort(key=lambda t: (t.player, t.turn))
    return result
