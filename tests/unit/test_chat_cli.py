"""`aicore chat` against the fake aicore (tests/fake_aicore_server.py): pick an NPC, talk, stream,
errors shown and the chat goes on, a drop mid-reply resumed, /quit. Against the local runtime:
tests/integration/test_client_live.py."""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aicore.local import chat, cli
from tests.fake_aicore_server import fake_aicore

NPCS = [chat.Npc("mira", "Mira", "the smith"), chat.Npc("borin", "Borin")]
DEADLINE_S = 30


@pytest.fixture
def socket_path() -> Iterator[Path]:
    folder = tempfile.mkdtemp(prefix="aic")
    yield Path(folder) / "ws"
    shutil.rmtree(folder, ignore_errors=True)


def _chat(socket_path: Path, typed: str, npc: str | None = None, **server_options: object) -> tuple[int, str]:
    out = io.StringIO()

    async def scenario() -> int:
        async with fake_aicore(socket_path, **server_options) as server:
            terminal = chat.Terminal(io.StringIO(typed), out)
            async with asyncio.timeout(DEADLINE_S):
                return await chat.converse(
                    "ws://aicore.test/ws", "player-token", npc, lambda: NPCS, terminal, opener=server.opener()
                )

    return asyncio.run(scenario()), out.getvalue()


def test_pick_an_npc_from_the_list_talk_and_quit(socket_path: Path) -> None:
    code, shown = _chat(socket_path, "7\n2\nHello there\n/quit\n")

    assert code == 0
    assert "  1. Mira, the smith (mira)\n  2. Borin (borin)\n" in shown
    assert "No such NPC here." in shown  # 7 is not on the list
    assert "you> borin> Well met, traveller.\nyou> " in shown


def test_an_error_is_shown_and_the_chat_goes_on(socket_path: Path) -> None:
    code, shown = _chat(socket_path, "Hi\n/npc mira\nHi again\n", npc="nobody")

    assert code == 0  # the end of input leaves
    assert "nobody> \n[not_found] There is no NPC 'nobody'.\n" in shown
    assert "Talking to mira.\nyou> mira> Well met, traveller.\n" in shown


def test_a_reply_cut_by_a_drop_arrives_whole_after_the_reconnect(socket_path: Path) -> None:
    code, shown = _chat(socket_path, "Hello\n/quit\n", npc="mira", drop_after_first_token=True)

    assert code == 0
    assert "mira> Well met, traveller.\n(the connection dropped; reconnected and resumed)\n" in shown


def test_a_refused_connection_says_why(socket_path: Path) -> None:
    code, shown = _chat(socket_path, "", npc="mira", refuse_status=401)

    assert code == 1
    assert "refused the connection (HTTP 401): no token, or one it does not accept" in shown


def test_the_command_line_takes_a_token_or_a_player_not_both(capsys: pytest.CaptureFixture[str]) -> None:
    args = cli.build_parser().parse_args(["chat", "--player", "p7", "--npc", "mira"])
    assert (args.url, args.player, args.world, args.npc, args.token) == (
        chat.DEFAULT_URL,
        "p7",
        "demo",
        "mira",
        None,
    )
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["chat", "--player", "p7", "--token", "t"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_the_http_api_is_found_beside_the_websocket() -> None:
    assert chat.http_url_of("ws://127.0.0.1:8123/ws") == "http://127.0.0.1:8123"
    assert chat.http_url_of("wss://abc.execute-api.eu-west-1.amazonaws.com/prod") == (
        "https://abc.execute-api.eu-west-1.amazonaws.com"
    )
