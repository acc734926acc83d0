"""`aicore chat`: talk to an NPC from a terminal, through the `aicore_client` library.

Pick an NPC (`--npc`, or from the world's list: `GET /worlds/{world}/npcs`), type lines, watch the
reply stream in token by token. `/npc ID` talks to another NPC, `/quit` (or end of input) leaves. A
dropped connection is reconnected and resumed by the client: a reply cut by the drop still arrives,
once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from aicore.auth import Role
from aicore_client import AicoreError, Client, ConnectionLost, HandshakeRefused, __version__, connect
from aicore_client.client import Opener

DEFAULT_URL = "ws://127.0.0.1:8000/ws"
DEFAULT_PLAYER = "player-1"
QUIT = "/quit"
HTTP_TIMEOUT_S = 30


@dataclass(frozen=True)
class Npc:
    npc_id: str
    name: str
    title: str = ""


NpcLister = Callable[[], Sequence[Npc]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default=DEFAULT_URL, help="the WebSocket URL (default: %(default)s, `aicore local`)"
    )
    parser.add_argument(
        "--http-url",
        default=None,
        help="the HTTP API, to list the world's NPCs (default: the WebSocket URL's host, as `aicore local` "
        "serves both)",
    )
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--token", default=None, help="a player's access token (JWT)")
    who.add_argument(
        "--player",
        default=None,
        help=f"talk as this player with a token signed by the local development key, which only "
        f"`aicore local` accepts (default: {DEFAULT_PLAYER})",
    )
    parser.add_argument("--world", default="demo", help="the world (default: %(default)s)")
    parser.add_argument("--npc", default=None, help="the NPC to talk to (default: pick one from the list)")


def http_url_of(ws_url: str) -> str:
    """`ws://host:port/ws` -> `http://host:port`: where `aicore local` serves its HTTP API."""
    parts = urllib.parse.urlsplit(ws_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urllib.parse.urlunsplit((scheme, parts.netloc, "", "", ""))


def npcs_over_http(http_url: str, world: str, token: str) -> NpcLister:
    def listed() -> list[Npc]:
        url = f"{http_url.rstrip('/')}/worlds/{urllib.parse.quote(world)}/npcs"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            body: dict[str, Any] = json.loads(response.read())
        return [
            Npc(str(n["npc_id"]), str(n.get("name") or n["npc_id"]), str(n.get("title") or ""))
            for n in body["data"]["npcs"]
        ]

    return listed


class Terminal:
    """Lines in, text out: a test hands it a StringIO."""

    def __init__(self, stdin: TextIO, stdout: TextIO) -> None:
        self._in, self._out = stdin, stdout

    async def ask(self, prompt: str) -> str | None:
        """The next line (stripped), or None at the end of input."""
        self.write(prompt)
        line = await asyncio.to_thread(self._in.readline)
        return None if line == "" else line.strip()

    def write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()


async def pick_npc(terminal: Terminal, npcs: Sequence[Npc]) -> str | None:
    if not npcs:
        terminal.write("This world has no NPCs yet (push one: aicore world push worlds/demo).\n")
        return None
    for number, npc in enumerate(npcs, start=1):
        title = f", {npc.title}" if npc.title else ""
        terminal.write(f"  {number}. {npc.name}{title} ({npc.npc_id})\n")
    by_id = {npc.npc_id: npc.npc_id for npc in npcs}
    while True:
        answer = await terminal.ask(f"Talk to (1-{len(npcs)} or an id; {QUIT} to leave): ")
        if answer is None or answer == QUIT:
            return None
        if answer.isdigit() and 1 <= int(answer) <= len(npcs):
            return npcs[int(answer) - 1].npc_id
        if answer in by_id:
            return answer
        terminal.write("No such NPC here.\n")


async def converse(
    url: str,
    token: str,
    npc: str | None,
    npcs: NpcLister,
    terminal: Terminal,
    *,
    opener: Opener | None = None,
) -> int:
    """The chat: 0 when the player left, 1 when the connection could not be had or kept."""
    try:
        client = await connect(url, token, client=f"aicore-chat/{__version__}", opener=opener)
    except HandshakeRefused as refused:
        terminal.write(
            f"aicore chat: {url} refused the connection (HTTP {refused.status}): {_why(refused.status)}\n"
        )
        return 1
    except OSError as unreachable:
        terminal.write(f"aicore chat: cannot reach {url}: {unreachable}\n")
        return 1
    try:
        if npc is None:
            npc = await pick_npc(terminal, await asyncio.to_thread(npcs))
        if npc is None:
            return 0
        return await _talk(client, npc, terminal)
    finally:
        await client.close()


async def _talk(client: Client, npc: str, terminal: Terminal) -> int:
    terminal.write(f"Talking to {npc}. Type a line; /npc ID talks to another; {QUIT} leaves.\n")
    warned = 0
    while True:
        line = await terminal.ask("you> ")
        if line is None or line == QUIT:
            return 0
        if line.startswith("/npc "):
            npc = line.removeprefix("/npc ").strip()
            terminal.write(f"Talking to {npc}.\n")
            continue
        if not line:
            continue
        reconnects = client.reconnects
        terminal.write(f"{npc}> ")
        try:
            turn = await client.say(npc, line)
            async for text in turn.tokens():
                terminal.write(text)
            terminal.write("\n")
        except AicoreError as refused:
            terminal.write(f"\n[{refused.code}] {refused.message}\n")
        except ConnectionLost as gone:
            terminal.write(f"\naicore chat: the connection is gone: {gone}\n")
            return 1
        if client.reconnects > reconnects:
            terminal.write("(the connection dropped; reconnected and resumed)\n")
        for warning in client.warnings[warned:]:
            terminal.write(f"(server: {warning.message})\n")
        warned = len(client.warnings)


def _why(status: int) -> str:
    return {
        401: "no token, or one it does not accept",
        403: "the token is not allowed here",
        426: "this client version may no longer connect",
    }.get(status, "see docs/protocol.md")


def run(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    token = args.token
    if token is None:
        from aicore.local.runtime import local_token

        token = local_token(args.player or DEFAULT_PLAYER, args.world, (Role.PLAYER,))
    lister = npcs_over_http(args.http_url or http_url_of(args.url), args.world, token)
    terminal = Terminal(stdin or sys.stdin, stdout or sys.stdout)
    try:
        return asyncio.run(converse(args.url, token, args.npc, lister, terminal))
    except KeyboardInterrupt:
        return 130
    except (urllib.error.URLError, OSError) as unreachable:
        terminal.write(f"aicore chat: cannot list the NPCs: {unreachable}\n")
        return 1
