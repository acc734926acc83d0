"""Runs an async server on its own event loop in a background thread (the runtime, tests, benches)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from types import TracebackType
from typing import Protocol

from aiohttp import web

from aicore.local.stopping import Deadline
from aicore.observability import logger

# How long an aiohttp server waits for requests in flight when it stops (they are then cancelled).
SHUTDOWN_GRACE_S = 1.0


class AsyncServer(Protocol):
    @property
    def url(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class AppServer:
    """An aiohttp application served on `host:port` (port 0 picks a free one)."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S, handle_signals=False
        )
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

    def stop(self, timeout_s: float | None = None) -> bool:
        """Stop serving and end the thread within `timeout_s` (default: the thread's own bound).

        Returns False when it had to give up: the server's own stop did not finish in time, or
        the loop's thread is still busy. That thread is a daemon: it is abandoned, not waited for.
        """
        if self._loop.is_closed():
            return True
        if self._thread.ident is None:  # never started
            self._loop.close()
            return True
        deadline = Deadline.after(self._timeout_s if timeout_s is None else timeout_s)
        stopped = True
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(deadline.left())
        except concurrent.futures.TimeoutError:
            logger.warning("Server did not stop in time", extra={"server": self._thread.name})
            stopped = False
        finally:
            stopped = self._end_loop(deadline) and stopped
        return stopped

    def _end_loop(self, deadline: Deadline | None = None) -> bool:
        """Cancel what still runs on the loop, stop it, join its thread; close it once the thread ended."""
        deadline = deadline or Deadline.after(self._timeout_s)
        if self._loop.is_running():
            cancelled = asyncio.run_coroutine_threadsafe(_cancel_tasks(), self._loop)
            with contextlib.suppress(concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
                cancelled.result(deadline.left())
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread.ident is not None:
            self._thread.join(deadline.left())
        if self._thread.is_alive():
            logger.warning("Server thread is still busy: abandoned", extra={"server": self._thread.name})
            return False
        self._loop.close()
        return True

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


async def _cancel_tasks() -> None:
    """Cancel every other task on this loop and let each handle its cancellation (briefly)."""
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    if others:
        await asyncio.wait(others, timeout=SHUTDOWN_GRACE_S)
