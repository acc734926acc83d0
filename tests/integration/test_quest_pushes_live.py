"""Quest pushes on the local runtime (gateway, moto, event delivery): a player's quest offered and
accepted reaches each of their connections as `quest.update` frames, once per event."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from aicore import wiring
from aicore.local.runtime import LocalRuntime, local_token
from aicore.quests.generation import GenerationDeps
from aicore.quests.service import prepare_offer
from aicore_client import QuestUpdate, connect
from aicore_client.protobuf import ProtobufCodec
from tests.clients import http_json
from tests.quest_fakes import ScriptedRouter

pytestmark = [pytest.mark.timeout(600)]
DELIVERY_S = 120


async def _updates_while(url: str, connections: int, act: Any, want: set[str]) -> list[list[dict[str, Any]]]:
    """Open `connections` sockets, run `act` (blocking, in a thread), and keep every quest.update each
    socket gets until each has `want` kinds, then a ping round trip more (a late duplicate shows)."""
    import websockets

    sockets = [await websockets.connect(url) for _ in range(connections)]
    got: list[list[dict[str, Any]]] = [[] for _ in sockets]

    async def read(n: int) -> None:
        async for raw in sockets[n]:
            frame = json.loads(raw)
            got[n].append(frame)

    readers = [asyncio.create_task(read(n)) for n in range(connections)]
    try:
        await asyncio.to_thread(act)
        deadline = time.monotonic() + DELIVERY_S
        while not all(want <= {f["data"]["kind"] for f in g if f["type"] == "quest.update"} for g in got):
            assert time.monotonic() < deadline, f"no quest.update {want} on every connection: {got}"
            await asyncio.sleep(0.05)
        for n, ws in enumerate(sockets):
            await ws.send(json.dumps({"action": "ping", "request_id": f"k-{n}"}))
        while not all(any(f["type"] == "pong" for f in g) for g in got):
            assert time.monotonic() < deadline, "no pong"
            await asyncio.sleep(0.05)
    finally:
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)
    return [[f for f in g if f["type"] == "quest.update"] for g in got]


def test_a_quest_offered_and_accepted_reaches_each_connection_of_its_player_once(
    runtime: LocalRuntime,
) -> None:
    # Given a player on two connections
    base = runtime.gateway.gateway.url
    player = f"p-{uuid.uuid4().hex[:8]}"
    token = local_token(player, "demo")
    url = f"ws://127.0.0.1:{runtime.options.port}/ws?token={token}"

    def offer_and_accept() -> None:
        # When Odo offers them his quest (from its template) and they accept it over HTTP
        deps = wiring.quest_offer_deps()
        deps.generation = GenerationDeps(ScriptedRouter([None]))
        offer = prepare_offer(deps, "demo", "odo", player, "c-1")
        assert offer is not None
        status, accepted = http_json(f"{base}/players/me/quests/{offer.quest_id}/accept", token, "POST", {})
        assert status == 200, accepted

    updates = asyncio.run(_updates_while(url, 2, offer_and_accept, {"offered", "accepted"}))
    # Then each connection got one quest.update of each, for the same quest
    for frames in updates:
        assert Counter(f["data"]["kind"] for f in frames) == {"offered": 1, "accepted": 1}
        assert len({f["data"]["quest_id"] for f in frames}) == 1
        assert all(f["request_id"] is None for f in frames)


def test_the_sdk_gives_a_players_quest_pushes_as_typed_updates(runtime: LocalRuntime) -> None:
    # Given a player connected through the Python SDK, in binary frames
    base = runtime.gateway.gateway.url
    player = f"p-{uuid.uuid4().hex[:8]}"
    token = local_token(player, "demo")

    async def offered_and_accepted() -> list[QuestUpdate]:
        url = f"ws://127.0.0.1:{runtime.options.port}/ws"
        async with await connect(url, token, codec=ProtobufCodec()) as client:
            updates = client.quest_updates()

            def offer_and_accept() -> None:
                # When Borin offers them his quest (from its template) and they accept it
                deps = wiring.quest_offer_deps()
                deps.generation = GenerationDeps(ScriptedRouter([None]))
                offer = prepare_offer(deps, "demo", "borin", player, "c-2")
                assert offer is not None
                accept = f"{base}/players/me/quests/{offer.quest_id}/accept"
                status, accepted = http_json(accept, token, "POST", {})
                assert status == 200, accepted

            await asyncio.to_thread(offer_and_accept)
            async with asyncio.timeout(DELIVERY_S):
                return [await anext(updates), await anext(updates)]

    first, second = asyncio.run(offered_and_accepted())
    # Then the SDK gives both, typed, in order
    assert (first.kind, first.npc_id, first.template_id) == ("offered", "borin", "ore-from-the-pass")
    assert first.title
    assert (second.kind, second.quest_id) == ("accepted", first.quest_id)
    assert second.expires_at
