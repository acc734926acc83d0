"""Real WebSocket clients subscribed to a world's pushes on a running gateway (tests and bench)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

Frame = dict[str, Any]


@dataclass
class Subscriber:
    """One connection, subscribed to its token's world; `updates` are the `world.update` frames it got,
    each with the monotonic time it arrived."""

    connection: ClientConnection
    updates: list[tuple[float, Frame]] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, ws_url: str, token: str, regions: list[str] | None = None) -> Subscriber:
        connection = await websockets.connect(f"{ws_url}?token={token}", max_size=None, open_timeout=60)
        frame: Frame = {"action": "world.subscribe", "request_id": "sub"}
        if regions is not None:
            frame["regions"] = regions
        await connection.send(json.dumps(frame))
        answer = json.loads(await asyncio.wait_for(connection.recv(), timeout=120))
        if answer.get("type") != "world.subscribed":
            raise AssertionError(f"subscribing failed: {answer}")
        subscriber = cls(connection)
        subscriber.reader = asyncio.create_task(subscriber._read())
        return subscriber

    async def _read(self) -> None:
        try:
            async for message in self.connection:
                frame = json.loads(message)
                if frame.get("type") == "world.update":
                    self.updates.append((time.monotonic(), frame))
        except websockets.ConnectionClosed:
            return

    def kinds(self, kind: str) -> list[Frame]:
        return [f for _, f in self.updates if f["data"]["kind"] == kind]

    async def close(self) -> None:
        await self.connection.close()
        if self.reader is not None:
            await self.reader


async def wait_until(predicate: Any, timeout_s: float, what: str) -> None:
    """Await an outcome with a deadline (the deadline only bounds a failure)."""
    deadline = time.monotonic() + timeout_s
    pause = 0.01
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: did not happen within {timeout_s} s")
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.25)
