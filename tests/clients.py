"""Real clients for tests that talk to a running gateway: WebSocket exchanges and HTTP calls."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import websockets

Frame = dict[str, Any]
# Pushes answer no request: one may arrive on a connection between a request and its answer (a quest
# offered after an earlier turn reaches every connection of the player).
PUSHES = frozenset({"world.update", "quest.update"})


async def exchange_async(url: str, frames: Sequence[str | Frame], timeout_s: float = 60) -> list[Frame]:
    """On one connection, send each frame and collect what answers it: tokens, then one final frame
    (pushes that arrive meanwhile are left out)."""
    answers: list[Frame] = []
    async with websockets.connect(url, max_size=None) as ws:
        for frame in frames:
            await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
            while True:
                received: Frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=timeout_s))
                if received["type"] in PUSHES:
                    continue
                answers.append(received)
                if received["type"] != "npc.token":
                    break
    return answers


def exchange(url: str, frames: Sequence[str | Frame], timeout_s: float = 60) -> list[Frame]:
    return asyncio.run(exchange_async(url, frames, timeout_s))


def final_answers(url: str, frames: Sequence[str | Frame], timeout_s: float = 60) -> list[Frame]:
    """The frame that ends each request (token frames left out)."""
    return [f for f in exchange(url, frames, timeout_s) if f["type"] != "npc.token"]


def http_json(
    url: str,
    token: str | None = None,
    method: str = "GET",
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Frame]:
    """An HTTP call with an optional bearer token and JSON body: (status, parsed JSON answer)."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
