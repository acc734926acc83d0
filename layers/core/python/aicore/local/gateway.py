"""API Gateway on loopback: the HTTP API, the WebSocket API and `@connections` on one aiohttp server.

Traffic becomes the exact events API Gateway gives Lambda, and the topology's handlers run
through `Lambdas.invoke` in thread pools (they are synchronous and may stream for seconds), so
the event loop keeps serving, including the `@connections` pushes those handlers make.

In the cloud every invocation gets its own sandbox, so one busy function never delays another.
Locally each function has its own pool (`Concurrency.per_function`), and one WebSocket connection
has at most `per_connection` frames in handlers at once, more waiting in its own queue: a client
that floods `npc.say` fills its own queue, not the pool that `$connect`, the authorizer and the
HTTP routes need. A frame beyond the queue gets API Gateway's throttling answer.

    gateway = Gateway(TOPOLOGY, Lambdas(), port=8000)
    await gateway.start()   # http://127.0.0.1:8000/ and ws://127.0.0.1:8000/ws?token=...
"""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from aicore.local.http_api import MAX_BODY_BYTES, HttpApi
from aicore.local.server_thread import SHUTDOWN_GRACE_S, ServerThread
from aicore.local.websocket_api import WEBSOCKET_PATH, ConnectionLimits, WebSocketApi
from aicore.topology import Topology

HEALTH_PATH = "/_local/health"
# How long stopping waits for WebSocket clients to close and their `$disconnect` to run.
DRAIN_S = 5.0


class PortInUse(OSError):
    """The gateway's port is taken: say so in one line, with what to do."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            errno.EADDRINUSE,
            f"Port {port} on {host} is in use by another program: stop it, or pick another port "
            "(aicore local --port N).",
        )
        self.host, self.port = host, port

    def __str__(self) -> str:
        return str(self.strerror)


@dataclass(frozen=True)
class Concurrency:
    """What runs at once in the local gateway, where the cloud gives every invocation its own sandbox."""

    per_function: int = 8  # invocations of one function at once (its own pool)
    per_connection: int = 4  # frames of one WebSocket connection in handlers at once
    per_connection_queue: int = 32  # more frames of a connection wait; beyond, "Too Many Requests"


class FunctionPools:
    """One thread pool per function, created on its first invocation (Lambda's per-function concurrency)."""

    def __init__(self, per_function: int) -> None:
        self._per_function = per_function
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()
        self._closed = False

    def pool(self, function: str) -> ThreadPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("the gateway is not started")
            pool = self._pools.get(function)
            if pool is None:
                pool = ThreadPoolExecutor(self._per_function, thread_name_prefix=f"lambda-{function}")
                self._pools[function] = pool
            return pool

    def shutdown(self) -> None:
        """Queued invocations are dropped; running ones finish on their own (nobody waits for them)."""
        with self._lock:
            self._closed = True
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)


class Invoker(Protocol):
    """What the gateway needs of `aicore.local.lambdas.Lambdas`."""

    def invoke(self, name: str, event: dict[str, Any]) -> Any: ...


class Gateway:
    """One server: `GET /_local/health`, `/ws`, `/@connections/{id}`, extra routes, then the HTTP API."""

    def __init__(
        self,
        topology: Topology,
        lambdas: Invoker,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        websocket_stage: str = "local",
        extra_routes: Sequence[web.AbstractRouteDef] = (),
        concurrency: Concurrency = Concurrency(),
    ) -> None:
        self._lambdas = lambdas
        self._host = host
        self._requested_port = port
        self._concurrency = concurrency
        self._pools: FunctionPools | None = None
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None
        limits = ConnectionLimits(concurrency.per_connection, concurrency.per_connection_queue)
        self.websocket = WebSocketApi(topology, self._invoke, stage=websocket_stage, limits=limits)
        self.http = HttpApi(topology, self._invoke)
        self.app = self.build_app(extra_routes)

    def build_app(self, extra_routes: Sequence[web.AbstractRouteDef] = ()) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_get(HEALTH_PATH, self._health)
        self.websocket.add_routes(app.router)
        app.router.add_routes(extra_routes)
        self.http.add_routes(app.router)
        return app

    @property
    def port(self) -> int:
        return self._requested_port if self._bound_port is None else self._bound_port

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self._host}:{self.port}{WEBSOCKET_PATH}"

    async def start(self) -> None:
        """Bind (port 0 picks a free port) and serve until `stop()`."""
        listener = bind(self._host, self._requested_port)
        self._pools = FunctionPools(self._concurrency.per_function)
        self._bound_port = listener.getsockname()[1]
        self._runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE_S)
        await self._runner.setup()
        await web.SockSite(self._runner, listener).start()

    async def stop(self) -> None:
        """Close every WebSocket (their `$disconnect` fires, for `DRAIN_S` at most), then stop serving.

        Handlers still busy are not waited for: their pools stop taking work, and what they push
        afterwards finds the connection gone.
        """
        try:
            await asyncio.wait_for(self.websocket.close_all(), timeout=DRAIN_S)
        except TimeoutError:
            self.websocket.abandon_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._pools is not None:
            self._pools.shutdown()
            self._pools = None

    async def _invoke(self, name: str, event: dict[str, Any]) -> Any:
        if self._pools is None:
            raise RuntimeError("the gateway is not started")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pools.pool(name), self._lambdas.invoke, name, event)

    async def _health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "connections": len(self.websocket.connection_ids)})


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (port 0 picks a free one); `PortInUse` when the port is taken."""
    try:
        return socket.create_server((host, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(host, port) from None
        raise


def port_in_use(host: str, port: int) -> bool:
    """Whether binding `host:port` fails now because something listens there (checked before starting)."""
    try:
        bind(host, port).close()
    except PortInUse:
        return True
    return False


class GatewayThread(ServerThread):
    """Runs a `Gateway` in a background thread; on `stop()` every WebSocket's `$disconnect` fires first."""

    def __init__(self, gateway: Gateway, *, timeout_s: float = 15.0) -> None:
        super().__init__(gateway, name="gateway", timeout_s=timeout_s)
        self.gateway = gateway
