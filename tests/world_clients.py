"""Real WebSocket clients subscribed to a world's pushes on a running gateway (tests and bench)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
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


def paused_demo_copy(base: str, prefix: str) -> str:
    """A new world made of the demo's content (its arcs too, no lore documents), pushed through the
    API as a studio does, its clock paused: no weather news while a test runs. Its id."""
    from aicore.auth import Role
    from aicore.local.runtime import local_token
    from aicore.local.world_push import push_content
    from tests.clients import http_json
    from tests.world_fakes import demo_content

    world = f"{prefix}-{uuid.uuid4().hex[:8]}"
    demo = demo_content()
    content = demo.model_copy(
        update={"world": demo.world.model_copy(update={"world_id": world}), "documents": ()}
    )
    studio = local_token("studio-1", world, (Role.STUDIO,))
    push_content(base, content, studio)
    assert http_json(f"{base}/worlds/{world}/clock", studio, "PUT", {"paused": True})[0] == 200
    return world
