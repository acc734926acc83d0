"""The npc.say handler over fakes: frames out, session writes, event, errors."""

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from aicore.llm.router import Completion, ModelRequest, Router, TokenSink
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.npc.turn import TurnDeps
from aicore.topology import NPC_TURN_COMPLETED, TOPOLOGY
from tests.events import load_event
from tests.fakes import FakePublisher, FakePusher, FakeSessions, ScriptedEndpoint
from tests.npc_turns import CONNECTION, TIERS, say, turn_deps
from tests.virtual_time import VirtualTime


@pytest.fixture
def deps() -> TurnDeps:
    return turn_deps()


def test_turn_streams_tokens_then_replies_and_stores_both_lines(deps: TurnDeps) -> None:
    pusher = say(deps)
    # Then: tokens first, in order (batched when they outrun the pushes), then one reply frame
    assert "".join(f["data"]["text"] for f in pusher.of_type("npc.token")) == "Well met, traveller."
    [reply] = pusher.of_type("npc.reply")
    assert reply["ok"]
    assert reply["request_id"] == "r-1"
    assert reply["operation"] == "npc.say"
    assert reply["data"]["text"] == "Well met, traveller."
    assert reply["data"]["tier"] == "gold"
    assert pusher.frames[-1][1] is reply
    # And both utterances are in the session, in order
    sessions = deps.sessions.store
    assert isinstance(sessions, FakeSessions)
    stored = sessions.messages[reply["data"]["session_id"]]
    assert [(m.seq, m.speaker.id, m.text) for m in stored] == [
        (1, "p1", "Any rooms?"),
        (2, "mira", "Well met, traveller."),
    ]
    # And the turn is announced on the bus
    assert isinstance(deps.events, FakePublisher)
    [(_, detail_type, detail)] = deps.events.published
    assert detail_type == NPC_TURN_COMPLETED
    assert detail.world_id == "demo"


def test_second_turn_reuses_the_pair_session(deps: TurnDeps) -> None:
    first = say(deps).of_type("npc.reply")[0]["data"]["session_id"]
    second = say(deps, request_id="r-2").of_type("npc.reply")[1]["data"]["session_id"]
    assert first == second


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"npc_id": "ghost"}, "not_found"),
        ({"text": ""}, "invalid_request"),
        ({"text": 42}, "invalid_request"),
        ({"session_id": "ses_missing"}, "not_found"),
    ],
)
def test_bad_turns_get_an_error_frame_and_store_nothing(
    deps: TurnDeps, frame: dict[str, Any], code: str
) -> None:
    pusher = say(deps, **frame)
    [error] = pusher.of_type("error")
    assert not error["ok"]
    assert error["error"]["code"] == code
    assert error["request_id"] == "r-1"
    assert "Traceback" not in json.dumps(error)
    assert isinstance(deps.sessions.store, FakeSessions)
    assert all(not messages for messages in deps.sessions.store.messages.values())


def test_a_frame_without_the_authorizers_identity_is_refused(deps: TurnDeps) -> None:
    handler = Lambdas().module(TOPOLOGY.function("npc-say")).handler
    body = json.dumps({"action": "npc.say", "request_id": "r-1", "npc_id": "mira", "text": "Hi"})
    handler(load_event("ws_message", body=body), LambdaContext("npc-say", 1024, 60), deps=deps)
    assert isinstance(deps.pusher, FakePusher)
    [error] = deps.pusher.of_type("error")
    assert error["error"]["code"] == "unauthorized"


def test_client_gone_mid_stream_still_stores_the_reply(deps: TurnDeps) -> None:
    assert isinstance(deps.pusher, FakePusher)
    deps.pusher.gone.add(CONNECTION)
    say(deps)
    assert isinstance(deps.sessions.store, FakeSessions)
    [messages] = deps.sessions.store.messages.values()
    assert [m.text for m in messages] == ["Any rooms?", "Well met, traveller."]


def test_tokens_that_outrun_slow_pushes_share_frames_and_keep_their_order(deps: TurnDeps) -> None:
    # Given a model that answers in 30 tokens, and a connection whose first push is in flight
    # until the model has handed over every token
    tokens = [f"w{i} " for i in range(30)]
    every_token_handed_over = threading.Event()

    class CountingRouter(Router):
        def stream(
            self, request: ModelRequest, on_token: TokenSink, scripted_line: Callable[[], str]
        ) -> Completion:
            handed: list[str] = []

            def hand_over(token: str) -> bool | None:
                listening = on_token(token)
                handed.append(token)
                if len(handed) == len(tokens):
                    every_token_handed_over.set()
                return listening

            return super().stream(request, hand_over, scripted_line)

    class SlowPusher(FakePusher):
        def send(self, connection_id: str, frame: dict[str, Any]) -> bool:
            if not self.frames:
                assert every_token_handed_over.wait(timeout=30), "the model never finished"
            return super().send(connection_id, frame)

    time = VirtualTime()
    deps.pusher = SlowPusher()
    deps.router = CountingRouter(ScriptedEndpoint(tokens=tokens), TIERS, clock=time, wait=time.wait)
    # When the player speaks
    pusher = say(deps)
    # Then the tokens that came during the first push went out together in one frame, in order
    frames = [f["data"]["text"] for f in pusher.of_type("npc.token")]
    assert 1 <= len(frames) <= 2
    assert "".join(frames) == "".join(tokens).strip()  # streamed as stored: no trailing space
    assert pusher.frames[-1][1]["type"] == "npc.reply"
