"""`aicore_client` against the local runtime (real gateway, handlers, moto, the model): hello,
a streamed turn whose connection drops after its first token, the client's reconnect and resume,
and the turn asked again with its request id: one reply, stored once, one model call; in JSON and
in binary protobuf frames. Then
`aicore chat` on the same runtime: the NPC list over HTTP, a streamed reply, /quit."""

from __future__ import annotations

import asyncio
import io
import time

import pytest

from aicore.local import cli
from aicore.local.runtime import LocalRuntime, local_token
from aicore_client import Client, Codec, JsonCodec, Message, Reply, connect
from aicore_client.protobuf import ProtobufCodec
from tests.clients import http_json
from tests.integration.test_protocol_live import TurnsAsked, count_turns_asking

pytestmark = [pytest.mark.model, pytest.mark.timeout(1800)]
TURN_S = 600  # bounds a failure only: the one CPU model serves every test's turns


@pytest.fixture
def line() -> str:
    return f"Will the client remember the bell of {time.time_ns()}?"


@pytest.fixture
def asked(line: str, monkeypatch: pytest.MonkeyPatch) -> TurnsAsked:
    return count_turns_asking(line, monkeypatch)


async def _talk_and_drop(client: Client, session_id: str, line: str) -> tuple[list[str], Reply]:
    """Say the line; cut the connection as soon as the first token is in; stream on to the reply."""
    turn = await client.say("borin", line, session_id=session_id)
    tokens: list[str] = []
    async for text in turn.tokens():
        tokens.append(text)
        if len(tokens) == 1:
            client.simulate_drop()
    assert turn.resumed
    return tokens, await turn.reply()


@pytest.mark.parametrize(
    ("codec", "protocol"), [(JsonCodec(), "aicore.json.v1"), (ProtobufCodec(), "aicore.proto.v1")]
)
def test_the_client_streams_a_turn_resumes_after_a_drop_and_the_turn_runs_once(
    runtime: LocalRuntime, line: str, asked: TurnsAsked, codec: Codec, protocol: str
) -> None:
    player = f"player-{time.time_ns()}"
    token = local_token(player, "demo")
    base = f"http://127.0.0.1:{runtime.options.port}"
    participants = [{"id": player, "kind": "player"}, {"id": "borin", "kind": "npc"}]
    status, created = http_json(f"{base}/sessions", token, "POST", {"participants": participants})
    assert status == 201, created
    session_id = created["data"]["session_id"]

    async def scenario() -> tuple[Client, list[str], Reply, list[Message]]:
        url = f"ws://127.0.0.1:{runtime.options.port}/ws"
        client = await connect(url, token, turn_timeout_s=TURN_S, codec=codec)
        try:
            await client.history(session_id)  # Given a client that follows the (empty) session
            # When its connection drops after the turn's first token
            tokens, reply = await _talk_and_drop(client, session_id, line)
            return client, tokens, reply, client.pending_messages()
        finally:
            await client.close()

    client, tokens, reply, missed = asyncio.run(scenario())

    # Then it said hello, reconnected once and resumed with the token hello gave
    assert client.welcome is not None
    assert client.welcome.protocol == protocol
    assert (client.drops, client.reconnects) == (1, 1)
    assert client.last_resumed is not None
    assert [s.session_id for s in client.last_resumed.sessions] == [session_id]
    # ... the resume delivered what the session stored by then, in order (the player's line at least)
    stored = [(1, player), (2, "borin")]
    assert missed
    assert [(m.session_id, m.seq, m.speaker.id) for m in missed] == [
        (session_id, seq, speaker) for seq, speaker in stored[: len(missed)]
    ]
    # ... the turn, asked again with its request id, got the one reply; its tokens add up to it
    assert (reply.session_id, reply.npc_id, reply.seq) == (session_id, "borin", 2)
    assert "".join(tokens) == reply.text
    assert client.last_seq[session_id] == 2
    # ... the model was asked once, and the session holds one player line and one NPC reply
    assert asked.calls == 1
    status, session = http_json(f"{base}/sessions/{session_id}", token)
    assert status == 200, session
    messages = session["data"]["messages"]
    assert [(m["seq"], m["speaker"]["id"]) for m in messages] == stored
    assert (messages[0]["text"], messages[1]["text"]) == (line, reply.text)


def test_aicore_chat_lists_the_npcs_and_streams_a_reply(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given `aicore chat` without --npc, and a player who picks Borin by id, says a line and quits
    player = f"player-{time.time_ns()}"
    monkeypatch.setattr("sys.stdin", io.StringIO("borin\nGood day, smith!\n/quit\n"))
    url = f"ws://127.0.0.1:{runtime.options.port}/ws"

    code = cli.main(["chat", "--url", url, "--player", player, "--world", "demo"])

    # Then it listed the world's NPCs (over HTTP), and Borin's reply streamed after his prompt
    shown = capsys.readouterr().out
    assert code == 0, shown
    assert "(borin)" in shown
    assert "(mira)" in shown
    said = shown.split("you> borin> ", 1)[1].split("\nyou> ", 1)[0]
    assert said.strip(), shown
