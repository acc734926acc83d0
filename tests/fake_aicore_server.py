"""A small aicore WebSocket server on a Unix socket, for unit tests of `aicore_client` (no network).

It speaks the protocol as aicore does (hello, ping, npc.say streamed and at most once per request id,
connection.resume, session.history/join/leave, world.subscribe with pushes, error envelopes) over
the same JSON frames, with a few switches a test flips: drop the connection after a turn's first
token, hold a turn until released, refuse the handshake, limit the turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import Server, ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from aicore_client import Client, connect
from aicore_client.client import Backoff

Frame = dict[str, Any]
QUICK = Backoff(initial_s=0.01, max_s=0.05, attempts=5, jitter=0.0)


def envelope(frame_type: str, request_id: str | None, data: Any = None, error: Frame | None = None) -> Frame:
    return {
        "type": frame_type if error is None else "error",
        "request_id": request_id,
        "ok": error is None,
        "service": "aicore",
        "operation": "fake",
        "correlation_id": "corr-1",
        "duration_ms": 1.0,
        "data": data,
        "error": error,
    }


@dataclass
class FakeAicore:
    socket_path: Path
    reply_tokens: tuple[str, ...] = ("Well", " met,", " traveller.")
    refuse_status: int | None = None  # refuse every handshake with this HTTP status
    drop_after_first_token: bool = False  # once: abort the connection after a turn's first token
    hold_turns: asyncio.Event | None = None  # a turn waits for this after its first token
    rate_limited: bool = False
    resume_from_start: bool = False  # resume sends every line, whatever the client has
    world_pushes: list[Frame] = field(default_factory=list)  # sent after every world.subscribe
    received: list[Frame] = field(default_factory=list)
    queries: list[dict[str, list[str]]] = field(default_factory=list)
    turns_run: int = 0
    connections: int = 0
    sessions: dict[str, list[Frame]] = field(default_factory=dict)
    _replies: dict[str, Frame] = field(default_factory=dict)
    _in_progress: set[str] = field(default_factory=set)
    _resume_tokens: set[str] = field(default_factory=set)
    _server: Server | None = None
    _turns: set[asyncio.Task[None]] = field(default_factory=set)  # every frame in work, all connections
    _live: set[ServerConnection] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- serving ---------------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await websockets.unix_serve(
            self._serve,
            str(self.socket_path),
            process_request=self._admit,
        )

    async def stop(self) -> None:
        assert self._server is not None
        for task in list(self._turns):  # turns still running are abandoned, as a crashed server's
            task.cancel()
        self._server.close()  # its connections get a close frame (1001, going away)
        await self._server.wait_closed()

    def _admit(self, connection: ServerConnection, request: Request) -> Response | None:
        query = parse_qs(urlsplit(request.path).query)
        self.queries.append(query)
        if self.refuse_status is not None:
            return connection.respond(HTTPStatus(self.refuse_status), "refused\n")
        if not query.get("token"):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "no token\n")
        return None

    async def _serve(self, ws: ServerConnection) -> None:
        self.connections += 1
        self._live.add(ws)
        tasks: set[asyncio.Task[None]] = set()
        try:
            async for message in ws:
                frame = json.loads(message)
                self.received.append(frame)
                task = asyncio.ensure_future(self._answer(ws, frame))
                for running in (tasks, self._turns):
                    running.add(task)
                    task.add_done_callback(running.discard)
        except ConnectionClosed:
            pass
        finally:
            self._live.discard(ws)
        if tasks:
            await asyncio.wait(tasks)  # a turn whose client left still ends (and is stored)

    @staticmethod
    async def _send(ws: ServerConnection, frame: Frame) -> None:
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(frame))

    async def push_world(self, update: Frame) -> None:
        await self.push("world.update", update)

    async def push(self, kind: str, data: Frame) -> None:
        """A push (no request_id) to every live connection."""
        for ws in list(self._live):
            await self._send(ws, {"type": kind, "request_id": None, "data": data})

    def drop_all(self) -> None:
        for ws in list(self._live):
            ws.transport.abort()

    # --- actions ---------------------------------------------------------------------------------

    async def _answer(self, ws: ServerConnection, frame: Frame) -> None:
        action, request_id = frame["action"], frame["request_id"]
        if action == "npc.say":
            await self._say(ws, frame)
        elif action == "connection.hello":
            token = secrets.token_urlsafe(32)
            self._resume_tokens.add(token)
            data = {"resume_token": token, "protocol": "aicore.json.v1", "capabilities": {"frames": []}}
            await self._send(ws, envelope("connection.welcome", request_id, data))
        elif action == "ping":
            await self._send(ws, envelope("pong", request_id, {"server_time": "2026-12-01T07:00:00+00:00"}))
        elif action == "connection.resume":
            await self._resume(ws, frame)
        elif action == "session.history":
            messages = self.sessions.get(frame["session_id"], [])
            page: Frame = {"session_id": frame["session_id"], "messages": messages, "next_before": None}
            await self._send(ws, envelope("session.history", request_id, page))
        elif action in ("session.join", "session.leave"):
            head = {
                "session_id": frame["session_id"],
                "participants": [{"id": "p1", "kind": "player"}],
                "message_count": len(self.sessions.get(frame["session_id"], [])),
            }
            answer_type = "session.joined" if action == "session.join" else "session.left"
            await self._send(ws, envelope(answer_type, request_id, head))
        elif action == "world.subscribe":
            subscribed: Frame = {"world_id": "demo", "regions": frame.get("regions")}
            await self._send(ws, envelope("world.subscribed", request_id, subscribed))
            for update in self.world_pushes:
                await self._send(ws, {"type": "world.update", "data": update})
        elif action == "world.unsubscribe":
            await self._send(ws, envelope("world.unsubscribed", request_id, {"world_id": "demo"}))

    async def _say(self, ws: ServerConnection, frame: Frame) -> None:
        request_id = frame["request_id"]
        if frame["npc_id"] == "nobody":
            error = {
                "code": "not_found",
                "message": "There is no NPC 'nobody'.",
                "details": {"npc_id": "nobody"},
            }
            await self._send(ws, envelope("npc.reply", request_id, error=error))
            return
        if self.rate_limited:
            error = {"code": "rate_limited", "message": "Slow down.", "details": {"retry_after_ms": 1500}}
            await self._send(ws, envelope("npc.reply", request_id, error=error))
            return
        if request_id in self._replies:
            await self._send(ws, envelope("npc.reply", request_id, self._replies[request_id]))
            return
        if request_id in self._in_progress:
            error = {"code": "request_in_progress", "message": "Still working.", "details": {}}
            await self._send(ws, envelope("npc.reply", request_id, error=error))
            return
        self._in_progress.add(request_id)
        self.turns_run += 1
        session_id = frame.get("session_id") or f"ses_{frame['npc_id']}"
        self._store(session_id, {"id": "p1", "kind": "player"}, frame["text"])
        for index, token in enumerate(self.reply_tokens):
            await self._send(ws, {"type": "npc.token", "request_id": request_id, "data": {"text": token}})
            if index == 0 and self.drop_after_first_token:
                self.drop_after_first_token = False
                ws.transport.abort()
            if index == 0 and self.hold_turns is not None:
                await self.hold_turns.wait()
        seq = self._store(session_id, {"id": frame["npc_id"], "kind": "npc"}, "".join(self.reply_tokens))
        reply = {
            "session_id": session_id,
            "npc_id": frame["npc_id"],
            "text": "".join(self.reply_tokens),
            "seq": seq,
            "tier": "gold",
            "fallback": False,
            "truncated": False,
            "mode": "balanced",
            "timings": {"tokens": len(self.reply_tokens)},
        }
        self._replies[request_id] = reply
        self._in_progress.discard(request_id)
        await self._send(ws, envelope("npc.reply", request_id, reply))

    def _store(self, session_id: str, speaker: Frame, text: str) -> int:
        lines = self.sessions.setdefault(session_id, [])
        seq = len(lines) + 1
        lines.append({"seq": seq, "speaker": speaker, "text": text, "created_at": "2026-12-01T07:00:00Z"})
        return seq

    async def _resume(self, ws: ServerConnection, frame: Frame) -> None:
        request_id = frame["request_id"]
        if frame["resume_token"] not in self._resume_tokens:
            error = {"code": "forbidden", "message": "Unknown resume token.", "details": {}}
            await self._send(ws, envelope("connection.resumed", request_id, error=error))
            return
        answered = []
        for session_id, after in frame["last_seq"].items():
            start = 0 if self.resume_from_start else after
            missed = [m for m in self.sessions.get(session_id, []) if m["seq"] > start]
            for message in missed:
                data = {**message, "session_id": session_id}
                await self._send(ws, {"type": "session.message", "request_id": request_id, "data": data})
            last = missed[-1]["seq"] if missed else after
            answered.append(
                {"session_id": session_id, "sent": len(missed), "last_seq": last, "next_before": None}
            )
        await self._send(ws, envelope("connection.resumed", request_id, {"sessions": answered}))

    # --- a client of it --------------------------------------------------------------------------

    def opener(self) -> Any:
        async def dial(url: str, subprotocols: list[str] | None) -> ClientConnection:
            offered = [Subprotocol(p) for p in subprotocols] if subprotocols else None
            return await websockets.unix_connect(str(self.socket_path), uri=url, subprotocols=offered)

        return dial

    async def client(self, **options: Any) -> Client:
        options.setdefault("backoff", QUICK)
        return await connect("ws://aicore.test/ws", "player-token", opener=self.opener(), **options)


@contextlib.asynccontextmanager
async def fake_aicore(socket_path: Path, **options: Any) -> AsyncIterator[FakeAicore]:
    server = FakeAicore(socket_path, **options)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
