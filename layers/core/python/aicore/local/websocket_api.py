"""The WebSocket API on loopback: `$connect` with its authorizer, frames routed by `action`,
`$disconnect`, and the `@connections` management API handlers push through."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from aicore import errors
from aicore.envelope import Operation
from aicore.frames import SUBPROTOCOL_HEADER, SUBPROTOCOLS
from aicore.local.apigw_events import (
    Api,
    Handshake,
    Invoke,
    MalformedAnswer,
    WebSocketPeer,
    gateway_error_frame,
    iso_time,
    new_connection_id,
    new_request_id,
    now_ms,
    policy_allows,
    select_route_key,
    status_code_of,
    websocket_authorizer_context,
    websocket_authorizer_event,
    websocket_connect_event,
    websocket_disconnect_event,
    websocket_message_event,
)
from aicore.topology import Topology

log = logging.getLogger(__name__)

WEBSOCKET_PATH = "/ws"
WEBSOCKET_API_ID = "aicorewsap"
TOKEN_QUERY_PARAMETER = "token"
MAX_FRAME_BYTES = 128 * 1024  # API Gateway's WebSocket message limit
MAX_RECEIVE_BYTES = 4 * 1024 * 1024  # larger, so oversized frames get an answer, not a dropped socket
NO_STATUS_RECEIVED = 1005
ABNORMAL_CLOSURE = 1006
UNSUPPORTED_DATA = 1003  # API Gateway's close code for a binary frame from a client
BINARY_REFUSED = "Binary frames are not supported: send text frames (protobuf frames as base64)"
_REFUSAL_MESSAGES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    426: "Upgrade Required",
    500: "Internal Server Error",
}


THROTTLED_MESSAGE = "Too Many Requests"  # API Gateway's own answer to a throttled message


@dataclass(frozen=True)
class ConnectionLimits:
    """Frames of one connection in handlers at once, and how many more may wait their turn."""

    in_flight: int = 4
    queued: int = 32


@dataclass
class Connection:
    peer: WebSocketPeer
    socket: web.WebSocketResponse
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    last_active_at_ms: int = field(default_factory=now_ms)
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed_by_api: tuple[int, str] | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    frames: set[asyncio.Task[None]] = field(default_factory=set)  # in handlers or waiting for a slot
    slots: asyncio.Semaphore = field(init=False)
    binary: bool = False  # its subprotocol's frames are binary (aicore.proto.v1)

    def __post_init__(self) -> None:
        self.slots = asyncio.Semaphore(self.limits.in_flight)

    @property
    def full(self) -> bool:
        return len(self.frames) >= self.limits.in_flight + self.limits.queued

    async def send(self, data: str | bytes) -> None:
        async with self.send_lock:
            if isinstance(data, bytes):
                await self.socket.send_bytes(data)
            else:
                await self.socket.send_str(data)


class Refused(Exception):
    """The upgrade is refused with this HTTP status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def refusal_response(status: int) -> web.Response:
    return web.json_response({"message": _REFUSAL_MESSAGES.get(status, "Refused")}, status=status)


def management_error(status: int, error_type: str, message: str) -> web.Response:
    """An error botocore parses into `ClientError` with `error_type` as its code."""
    return web.json_response({"message": message}, status=status, headers={"x-amzn-ErrorType": error_type})


def payload_too_large_frame() -> str:
    limit = f"{MAX_FRAME_BYTES // 1024} KB"
    envelope = Operation("websocket.message", new_request_id()).fail(
        errors.PayloadTooLarge(
            f"Frames are limited to {limit}; send less per frame.", {"limit_bytes": MAX_FRAME_BYTES}
        )
    )
    return json.dumps({"type": "error", "request_id": None, **envelope.model_dump(mode="json")})


class WebSocketApi:
    """One WebSocket API: its connections, its routes and its `@connections` endpoint."""

    def __init__(
        self,
        topology: Topology,
        invoke: Invoke,
        *,
        stage: str = "local",
        limits: ConnectionLimits | None = None,
    ) -> None:
        self._topology = topology
        self._invoke = invoke
        self._limits = limits or ConnectionLimits()
        self.api = Api(WEBSOCKET_API_ID, stage)
        self._connections: dict[str, Connection] = {}
        self._in_flight: set[asyncio.Task[None]] = set()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get(WEBSOCKET_PATH, self.upgrade)
        for prefix in ("", "/{stage}"):
            path = prefix + "/@connections/{connection_id}"
            router.add_post(path, self.post_to_connection)
            router.add_get(path, self.get_connection, allow_head=False)
            router.add_delete(path, self.delete_connection)

    @property
    def connection_ids(self) -> list[str]:
        return list(self._connections)

    # --- $connect ------------------------------------------------------------------------------

    async def upgrade(self, request: web.Request) -> web.StreamResponse:
        if not web.WebSocketResponse().can_prepare(request).ok:
            return web.json_response({"message": "Expected a WebSocket upgrade"}, status=426)
        peer = WebSocketPeer(
            connection_id=new_connection_id(),
            domain_name=request.host,
            source_ip=request.remote or "127.0.0.1",
            user_agent=request.headers.get("User-Agent"),
        )
        handshake = Handshake(headers_as_sent(request), list(request.query.items()))
        try:
            subprotocol = await self._admit(peer, handshake)
        except Refused as refusal:
            return refusal_response(refusal.status)
        # As API Gateway: the handshake answers the subprotocol `$connect` answered, if any
        socket = web.WebSocketResponse(
            max_msg_size=MAX_RECEIVE_BYTES, protocols=(subprotocol,) if subprotocol else ()
        )
        await socket.prepare(request)
        binary = subprotocol is not None and SUBPROTOCOLS.get(subprotocol) == "protobuf"
        await self._serve(Connection(peer, socket, self._limits, binary=binary))
        return socket

    async def _admit(self, peer: WebSocketPeer, handshake: Handshake) -> str | None:
        """Authorizer, then the `$connect` route: the subprotocol its answer names, if any; raises
        `Refused` to turn the client away."""
        if not dict(handshake.query).get(TOKEN_QUERY_PARAMETER):
            raise Refused(401)
        peer.authorizer = await self._authorize(peer, handshake)
        connect = self._topology.websocket_route("$connect")
        if connect is None:
            return None
        try:
            answer = await self._invoke(connect.name, websocket_connect_event(self.api, peer, handshake))
            status = status_code_of(answer)
        except Exception:
            log.exception("$connect handler %s failed", connect.name)
            raise Refused(500) from None
        if not 200 <= status < 300:
            raise Refused(status)
        return answered_subprotocol(answer)

    async def _authorize(self, peer: WebSocketPeer, handshake: Handshake) -> dict[str, Any]:
        started = time.perf_counter()
        event = websocket_authorizer_event(self.api, peer, handshake)
        try:
            answer = await self._invoke(self._topology.authorizer.name, event)
        except Exception as exc:
            log.info("Authorizer refused %s: %r", peer.connection_id, exc)
            raise Refused(401) from None
        try:
            if not policy_allows(answer):
                raise Refused(403)
            return websocket_authorizer_context(answer, int((time.perf_counter() - started) * 1000))
        except MalformedAnswer:
            log.exception("Authorizer answered something API Gateway cannot use")
            raise Refused(500) from None

    # --- frames --------------------------------------------------------------------------------

    async def _serve(self, connection: Connection) -> None:
        peer = connection.peer
        self._connections[peer.connection_id] = connection
        close_code, close_reason = ABNORMAL_CLOSURE, "Connection closed abnormally"
        try:
            while True:
                message = await connection.socket.receive()
                if message.type is WSMsgType.TEXT:
                    self._on_frame(connection, message.data)
                    continue
                if message.type is WSMsgType.BINARY:  # as API Gateway: refused, and the client cut off
                    await self._close(connection, UNSUPPORTED_DATA, BINARY_REFUSED)
                    continue
                if message.type is WSMsgType.CLOSE:
                    close_code, close_reason = client_close_status(message.data, message.extra)
                break
        finally:
            self._connections.pop(peer.connection_id, None)
            for frame in list(connection.frames):
                frame.cancel()  # the client is gone: frames still waiting for a slot are dropped
            if connection.closed_by_api is not None:
                close_code, close_reason = connection.closed_by_api
            await self._disconnect(peer, close_code, close_reason)
            connection.finished.set()

    def _on_frame(self, connection: Connection, data: str | bytes) -> None:
        connection.last_active_at_ms = now_ms()
        size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8"))
        if size > MAX_FRAME_BYTES:
            self._spawn(self._send_quietly(connection, payload_too_large_frame()))
            return
        try:
            route_key = select_route_key(data, self._topology.websocket_route_keys)
        except Exception:  # whatever a frame holds, the connection keeps serving
            log.exception("Route selection failed on %s", connection.peer.connection_id)
            route_key = "$default"
        event = websocket_message_event(self.api, connection.peer, route_key, data)
        if connection.full:
            request_id = event["requestContext"]["requestId"]
            throttled = gateway_error_frame(THROTTLED_MESSAGE, connection.peer, request_id)
            self._spawn(self._send_quietly(connection, throttled))
            return
        task = self._spawn(self._take_turn(connection, route_key, event))
        connection.frames.add(task)
        task.add_done_callback(connection.frames.discard)

    async def _take_turn(self, connection: Connection, route_key: str, event: dict[str, Any]) -> None:
        async with connection.slots:
            await self._route(connection, route_key, event)

    async def _route(self, connection: Connection, route_key: str, event: dict[str, Any]) -> None:
        function = self._topology.websocket_route(route_key)
        request_id = event["requestContext"]["requestId"]
        if function is None:
            await self._send_quietly(
                connection, gateway_error_frame("Forbidden", connection.peer, request_id)
            )
            return
        try:
            await self._invoke(function.name, event)
        except Exception:
            log.exception(
                "Route %s (%s) failed on %s", route_key, function.name, connection.peer.connection_id
            )
            failure = gateway_error_frame("Internal server error", connection.peer, request_id)
            await self._send_quietly(connection, failure)

    @staticmethod
    async def _send_quietly(connection: Connection, frame: str) -> None:
        """A frame from the gateway itself; a client that has gone simply misses it."""
        with contextlib.suppress(ConnectionError):
            await connection.send(frame)

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        return task

    # --- $disconnect ---------------------------------------------------------------------------

    async def _disconnect(self, peer: WebSocketPeer, status_code: int, reason: str) -> None:
        function = self._topology.websocket_route("$disconnect")
        if function is None:
            return
        try:
            await self._invoke(function.name, websocket_disconnect_event(self.api, peer, status_code, reason))
        except Exception:
            log.exception("$disconnect handler %s failed", function.name)

    async def close_all(self, code: int = 1001, reason: str = "Going away") -> None:
        """Close every connection (their `$disconnect` fires) and let in-flight frames finish."""
        connections = list(self._connections.values())
        for connection in connections:
            await self._close(connection, code, reason)
        for connection in connections:
            await connection.finished.wait()
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=5)

    def abandon_all(self) -> None:
        """Stop waiting for frames in flight (their handlers may still run in their threads)."""
        for task in list(self._in_flight):
            task.cancel()

    async def _close(self, connection: Connection, code: int, reason: str) -> None:
        connection.closed_by_api = (code, reason)
        await connection.socket.close(code=code, message=reason.encode())

    # --- @connections --------------------------------------------------------------------------

    def _live(self, request: web.Request) -> Connection | None:
        connection = self._connections.get(request.match_info["connection_id"])
        return None if connection is None or connection.socket.closed else connection

    @staticmethod
    def _gone(request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        return management_error(410, "GoneException", f"Connection {connection_id} is gone.")

    async def post_to_connection(self, request: web.Request) -> web.Response:
        connection = self._live(request)
        if connection is None:
            return self._gone(request)
        data = await request.read()
        if len(data) > MAX_FRAME_BYTES:
            return management_error(413, "PayloadTooLargeException", "Message too long.")
        try:
            await connection.send(data if connection.binary else _text_if_utf8(data))
        except ConnectionError:
            return self._gone(request)
        return web.Response(status=200)

    async def get_connection(self, request: web.Request) -> web.Response:
        connection = self._live(request)
        if connection is None:
            return self._gone(request)
        peer = connection.peer
        return web.json_response(
            {
                "connectedAt": iso_time(peer.connected_at_ms),
                "identity": {"sourceIp": peer.source_ip, "userAgent": peer.user_agent or ""},
                "lastActiveAt": iso_time(connection.last_active_at_ms),
            }
        )

    async def delete_connection(self, request: web.Request) -> web.Response:
        connection = self._live(request)
        if connection is None:
            return self._gone(request)
        await self._close(connection, 1000, "Connection deleted through the @connections API")
        return web.Response(status=204)


def headers_as_sent(request: web.Request) -> list[tuple[str, str]]:
    """Header names in the client's own case, as WebSocket API events carry them."""
    return [
        (name.decode("utf-8", "replace"), value.decode("utf-8", "replace"))
        for name, value in request.raw_headers
    ]


def client_close_status(code: int | None, reason: str | None) -> tuple[int, str]:
    """`disconnectStatusCode` and `disconnectReason` for a close frame the client sent."""
    if not code:
        return NO_STATUS_RECEIVED, "Client-side close frame status not set"
    return code, reason or ""


def answered_subprotocol(answer: Any) -> str | None:
    """The `Sec-WebSocket-Protocol` a `$connect` answer's headers name, if any."""
    headers = answer.get("headers") if isinstance(answer, Mapping) else None
    for name, value in (headers or {}).items():
        if str(name).lower() == SUBPROTOCOL_HEADER.lower() and isinstance(value, str):
            return value
    return None


def _text_if_utf8(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data
