"""Runs an async server on its own event loop in a background thread (the runtime, tests, benches)."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Protocol

from aiohttp import web


class AsyncServer(Protocol):
    @property
    def url(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class AppServer:
    """An aiohttp application served on `host:port` (port 0 picks a free one)."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, handle_signals=False)
        self._host, self._port = host, port
        self._url = ""

    @property
    def url(self) -> str:
        return self._url

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        host, port = self._runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"

    async def stop(self) -> None:
        await self._runner.cleanup()


class ServerThread:
    def __init__(self, server: AsyncServer, *, name: str, timeout_s: float = 15.0) -> None:
        self.server = server
        self._timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> str:
        """Start serving; returns the base URL (`http://127.0.0.1:PORT`)."""
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(self._timeout_s)
        except BaseException:
            self._end_loop()
            raise
        return self.server.url

    def stop(self) -> None:
        """Stop serving and end the thread."""
        if self._loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(self._timeout_s)
        finally:
            self._end_loop()

    def _end_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(self._timeout_s)
        self._loop.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
