"""`aicore_client` against a fake aicore on a Unix socket: requests and their ids, streamed turns,
typed errors, reconnect and resume (missed lines, a turn asked again with its request id, never
run twice), world pushes, giving up. The real server: tests/integration/test_client_live.py."""

from __future__ import annotations

import ast
import asyncio
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from aicore_client import (
    AicoreError,
    Client,
    ConnectionLost,
    HandshakeRefused,
    JsonCodec,
    Message,
    RateLimited,
    Turn,
)
from aicore_client.client import with_query
from tests.fake_aicore_server import FakeAicore, fake_aicore

T = TypeVar("T")
DEADLINE_S = 30  # bounds a failure only: each step waits for an outcome


@pytest.fixture
def socket_path() -> Iterator[Path]:
    folder = tempfile.mkdtemp(prefix="aic")  # short: a Unix socket's path is at most 107 bytes
    yield Path(folder) / "ws"
    shutil.rmtree(folder, ignore_errors=True)


def run(test: Callable[[], Awaitable[T]]) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(DEADLINE_S):
            return await test()

    return asyncio.run(bounded())


async def _spoken(turn: Turn) -> list[str]:
    return [token async for token in turn.tokens()]


async def _messages(client: Client, count: int) -> list[Message]:
    taken: list[Message] = []
    async for message in client.messages():
        taken.append(message)
        if len(taken) == count:
            return taken
    return taken


def test_hello_ping_and_a_streamed_turn_with_generated_request_ids(socket_path: Path) -> None:
    async def scenario() -> None:
        async with fake_aicore(socket_path) as server:
            client = await server.client(client="mytool/2.1.0")
            # Given a client that said hello, when it pings and says something
            pong = await client.ping()
            turn = await client.say("mira", "Hello!")
            tokens = await _spoken(turn)
            reply = await turn.reply()
            await client.close()

        # Then the tokens stream in order and add up to the reply
        assert client.welcome is not None
        assert client.welcome.resume_token
        assert pong.server_time
        assert tokens == ["Well", " met,", " traveller."]
        assert (reply.text, reply.npc_id, reply.seq, reply.tier) == (
            "Well met, traveller.",
            "mira",
            2,
            "gold",
        )
        assert not turn.resumed
        # ... every request carried its own generated id; the client says who it is
        ids = [frame["request_id"] for frame in server.received]
        assert len(set(ids)) == 3
        assert all(i.startswith("py-") for i in ids)
        assert server.received[0] == {
            "action": "connection.hello",
            "request_id": ids[0],
            "client": "mytool/2.1.0",
        }
        assert server.queries[0]["client"] == ["mytool/2.1.0"]
        assert server.queries[0]["token"] == ["player-token"]
        assert client.last_seq == {"ses_mira": 2}

    run(scenario)


def test_errors_come_back_typed_with_the_envelopes_code_message_and_details(socket_path: Path) -> None:
    async def scenario() -> tuple[AicoreError, RateLimited]:
        async with fake_aicore(socket_path) as server:
            client = await server.client()
            with pytest.raises(AicoreError) as unknown:
                await (await client.say("nobody", "Hi")).reply()
            server.rate_limited = True
            turn = await client.say("mira", "Hi")
            with pytest.raises(RateLimited) as limited:
                await _spoken(turn)
            await client.close()
        return unknown.value, limited.value

    unknown, limited = run(scenario)

    assert (unknown.code, unknown.message) == ("not_found", "There is no NPC 'nobody'.")
    assert unknown.details == {"npc_id": "nobody"}
    assert unknown.request_id is not None
    assert unknown.correlation_id == "corr-1"
    assert (limited.code, limited.retry_after_ms) == ("rate_limited", 1500)


def test_a_refused_handshake_raises_at_once_with_its_status(socket_path: Path) -> None:
    async def scenario() -> int:
        async with fake_aicore(socket_path, refuse_status=426) as server:
            with pytest.raises(HandshakeRefused) as refused:
                await server.client()
            return refused.value.status

    assert run(scenario) == 426


def test_a_turn_cut_by_a_drop_is_resumed_asked_again_with_its_id_and_run_once(socket_path: Path) -> None:
    async def scenario() -> None:
        async with fake_aicore(socket_path) as server:
            client = await server.client()
            await client.history("ses_1")  # the client follows the session (it has nothing of it)
            # Given a turn whose connection drops after its first token
            server.drop_after_first_token = True
            turn = await client.say("mira", "Hello!", session_id="ses_1")
            tokens = await _spoken(turn)
            reply = await turn.reply()
            missed = await _messages(client, 2)
            await client.close()

        # Then the client reconnected and resumed with its token and the seq it had
        assert (client.drops, client.reconnects, server.connections) == (1, 1, 2)
        resume = next(f for f in server.received if f["action"] == "connection.resume")
        assert resume["last_seq"] == {"ses_1": 0}
        assert client.welcome is not None
        assert resume["resume_token"] == client.welcome.resume_token
        # ... the missed lines came on messages(), in order
        assert [(m.session_id, m.seq, m.speaker.kind) for m in missed] == [
            ("ses_1", 1, "player"),
            ("ses_1", 2, "npc"),
        ]
        # ... the turn was asked again with the same request id, and ran once
        says = [f for f in server.received if f["action"] == "npc.say"]
        assert [f["request_id"] for f in says] == [turn.request_id] * 2
        assert server.turns_run == 1
        assert [m["seq"] for m in server.sessions["ses_1"]] == [1, 2]
        # ... and its tokens still add up to the reply, which it got once
        assert turn.resumed
        assert "".join(tokens) == reply.text == "Well met, traveller."
        assert tokens[0] == "Well"
        assert client.last_seq == {"ses_1": 2}

    run(scenario)


def test_a_repeat_that_finds_the_turn_in_progress_asks_again_until_the_reply_is_there(
    socket_path: Path,
) -> None:
    async def scenario() -> None:
        held = asyncio.Event()
        async with fake_aicore(socket_path, hold_turns=held) as server:
            client = await server.client()
            turn = await client.say("mira", "Hello!")
            # Given a turn in progress (its first token is here) when the connection drops
            first = await anext(aiter(turn.tokens()))
            client.simulate_drop()
            # When the repeat is answered `request_in_progress` (at least once) and then the turn ends
            await _until(lambda: _in_progress_answers(server) >= 1 or None)
            held.set()
            reply = await turn.reply()
            await client.close()

        # Then the client got the one reply; the server ran the turn once
        assert first == "Well"
        assert reply.text == "Well met, traveller."
        assert server.turns_run == 1
        says = [f["request_id"] for f in server.received if f["action"] == "npc.say"]
        assert len(says) >= 3
        assert set(says) == {turn.request_id}

    run(scenario)


def _in_progress_answers(server: FakeAicore) -> int:
    return sum(1 for f in server.received if f["action"] == "npc.say") - 1


async def _until(predicate: Callable[[], Any]) -> Any:
    """Waits (yielding to the loop, with a growing pause) until `predicate` gives something."""
    pause = 0.001
    while not (value := predicate()):
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.1)
    return value


def test_a_line_the_client_already_has_is_not_delivered_again(socket_path: Path) -> None:
    async def scenario() -> None:
        async with fake_aicore(socket_path, resume_from_start=True) as server:
            client = await server.client()
            await (await client.say("mira", "Hello!", session_id="ses_1")).reply()
            # When a resume sends the session's lines again (the client has them: seq 2)
            client.simulate_drop()
            await _until(lambda: client.last_resumed)
            await client.close()

        # Then none is delivered twice
        assert client.last_resumed is not None
        assert client.last_resumed.sessions[0].sent == 2
        assert client.pending_messages() == []

    run(scenario)


def test_world_pushes_stream_once_each_and_the_subscription_comes_back_after_a_drop(
    socket_path: Path,
) -> None:
    async def scenario() -> None:
        update = {
            "kind": "weather",
            "world_id": "demo",
            "event_id": "weather:emberfall:12",
            "region": "emberfall",
        }
        async with fake_aicore(socket_path, world_pushes=[update]) as server:
            client = await server.client()
            subscription = await client.subscribe_world(["emberfall"])
            first = await anext(subscription)
            # When the connection drops, the client subscribes again (the server pushes the same
            # change again) and a new change is pushed
            server.drop_all()
            await _until(lambda: sum(1 for f in server.received if f["action"] == "world.subscribe") == 2)
            await server.push_world({**update, "event_id": "weather:emberfall:13"})
            second = await anext(subscription)
            await client.close()

        assert (subscription.world_id, subscription.regions) == ("demo", ["emberfall"])
        assert (first.kind, first.region, first.event_id) == ("weather", "emberfall", "weather:emberfall:12")
        # Then the repeated change is not delivered twice
        assert second.event_id == "weather:emberfall:13"
        subscribes = [f for f in server.received if f["action"] == "world.subscribe"]
        assert [f["regions"] for f in subscribes] == [["emberfall"], ["emberfall"]]

    run(scenario)


def test_quest_pushes_come_once_each_while_a_turn_streams(socket_path: Path) -> None:
    async def scenario() -> None:
        offered = {
            "kind": "offered",
            "world_id": "demo",
            "event_id": "ev-1",
            "occurred_at": "2026-12-01T10:00:00Z",
            "quest_id": "q-1",
            "npc_id": "odo",
            "template_id": "oil-for-the-lanterns",
            "title": "Oil for the Lanterns",
        }
        async with fake_aicore(socket_path) as server:
            client = await server.client()
            updates = client.quest_updates()
            # Given a quest offered (pushed twice: a redelivery) while a turn is under way
            turn = await client.say("mira", "Hi")
            for update in (offered, offered, {**offered, "kind": "accepted", "event_id": "ev-2"}):
                await server.push("quest.update", update)
            reply = await turn.reply()
            # Then the turn's answer is its own, and each quest event comes once
            first, second = await anext(updates), await anext(updates)
            await client.close()
        assert reply.text == "Well met, traveller."
        assert (first.kind, first.quest_id, first.title) == ("offered", "q-1", "Oil for the Lanterns")
        assert (second.kind, second.event_id, second.title) == ("accepted", "ev-2", "Oil for the Lanterns")

    run(scenario)


def test_sessions_joined_and_read_are_followed_for_resume(socket_path: Path) -> None:
    async def scenario() -> None:
        async with fake_aicore(socket_path) as server:
            client = await server.client()
            await (await client.say("mira", "Hi", session_id="ses_a")).reply()
            joined = await client.join("ses_a")
            left = await client.leave("ses_a")
            page = await client.history("ses_a")
            client.follow("ses_b", 7)
            assert client.last_seq == {"ses_a": 2, "ses_b": 7}
            await client.close()
        assert (joined.session_id, joined.message_count, left.session_id) == ("ses_a", 2, "ses_a")
        assert [m.text for m in page.messages] == ["Hi", "Well met, traveller."]

    run(scenario)


def test_when_the_server_stays_away_waiting_requests_fail_with_connection_lost(socket_path: Path) -> None:
    async def scenario() -> None:
        held = asyncio.Event()
        async with fake_aicore(socket_path, hold_turns=held) as server:
            client = await server.client()
            turn = await client.say("mira", "Hello!")
            await anext(aiter(turn.tokens()))
        # Given the server is gone (stopped: its socket is closed and removed)
        with pytest.raises(ConnectionLost):
            await turn.reply()
        with pytest.raises(ConnectionLost):
            await client.ping()
        assert client.drops == 1
        assert client.reconnects == 0
        await client.close()

    run(scenario)


def test_a_reconnect_the_server_refuses_fails_what_waits_with_connection_lost(socket_path: Path) -> None:
    async def scenario() -> ConnectionLost:
        async with fake_aicore(socket_path, hold_turns=asyncio.Event()) as server:
            client = await server.client()
            turn = await client.say("mira", "Hello!")
            await anext(aiter(turn.tokens()))
            # Given the server now refuses the token (it expired), when the connection drops
            server.refuse_status = 401
            client.simulate_drop()
            with pytest.raises(ConnectionLost) as lost:
                await turn.reply()
            await client.close()
        return lost.value

    lost = run(scenario)

    # Then the turn fails at once (no retries of a refusal), saying why
    assert isinstance(lost.__cause__, HandshakeRefused)
    assert lost.__cause__.status == 401


def test_a_frame_the_client_cannot_read_is_skipped_and_the_connection_serves_on(socket_path: Path) -> None:
    async def scenario() -> None:
        broken = {"kind": "weather"}  # no world_id, no event_id
        good = {"kind": "fact", "world_id": "demo", "event_id": "fact:bridge_out:2"}
        async with fake_aicore(socket_path, world_pushes=[broken, good]) as server:
            client = await server.client()
            subscription = await client.subscribe_world()
            update = await anext(subscription)
            pong = await client.ping()
            await client.close()
        assert update.event_id == "fact:bridge_out:2"
        assert pong.server_time
        assert client.drops == 0

    run(scenario)


def test_a_codec_whose_subprotocol_the_server_does_not_take_is_refused(socket_path: Path) -> None:
    class Binary(JsonCodec):
        @property
        def subprotocol(self) -> str | None:
            return "aicore.proto.v1"

    async def scenario() -> None:
        async with fake_aicore(socket_path) as server:
            with pytest.raises(ConnectionLost, match=r"aicore\.proto\.v1"):
                await server.client(codec=Binary())

    run(scenario)


def test_the_url_keeps_its_query_and_gets_token_and_client() -> None:
    url = with_query("wss://x.example/ws?stage=1&token=old", token="t.k.n", client="python/0.1.0")
    assert url == "wss://x.example/ws?stage=1&token=t.k.n&client=python%2F0.1.0"


def test_the_library_never_imports_aicore() -> None:
    """Game tools install aicore-client alone: it may import only itself and its dependencies."""
    package = Path(__file__).parents[2] / "clients" / "python" / "aicore_client"
    imported = set()
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert "aicore" not in imported
    assert imported - set(sys.stdlib_module_names) == {"aicore_client", "websockets", "pydantic", "google"}
