"""API Gateway on loopback: the HTTP API, the WebSocket API and `@connections` on one aiohttp server.

Traffic becomes the exact events API Gateway gives Lambda, and the topology's handlers run
through `Lambdas.invoke` in a thread pool (they are synchronous and may stream for seconds), so
the event loop keeps serving, including the `@connections` pushes those handlers make.

    gateway = Gateway(TOPOLOGY, Lambdas(), port=8000)
    await gateway.start()   # http://127.0.0.1:8000/ and ws://127.0.0.1:8000/ws?token=...
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from aiohttp import web

from aicore.local.http_api import MAX_BODY_BYTES, HttpApi
from aicore.local.server_thread import ServerThread
from aicore.local.websocket_api import WEBSOCKET_PATH, WebSocketApi
from aicore.topology import Topology

HEALTH_PATH = "/_local/health"


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
        max_concurrent_invocations: int = 32,
    ) -> None:
        self._lambdas = lambdas
        self._host = host
        self._requested_port = port
        self._max_workers = max_concurrent_invocations
        self._pool: ThreadPoolExecutor | None = None
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None
        self.websocket = WebSocketApi(topology, self._invoke, stage=websocket_stage)
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
        self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix="lambda")
        listener = socket.create_server((self._host, self._requested_port))
        self._bound_port = listener.getsockname()[1]
        self._runner = web.AppRunner(self.app, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, listener).start()

    async def stop(self) -> None:
        """Close every WebSocket (their `$disconnect` fires), then stop serving."""
        await self.websocket.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def _invoke(self, name: str, event: dict[str, Any]) -> Any:
        if self._pool is None:
            raise RuntimeError("the gateway is not started")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._lambdas.invoke, name, event)

    async def _health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "connections": len(self.websocket.connection_ids)})


class GatewayThread(ServerThread):
    """Runs a `Gateway` in a background thread; on `stop()` every WebSocket's `$disconnect` fires first."""

    def __init__(self, gateway: Gateway, *, timeout_s: float = 15.0) -> None:
        super().__init__(gateway, name="gateway", timeout_s=timeout_s)
        self.gateway = gateway
