"""`connection.resume` through the real handlers over fakes: a turn whose connection dropped still
stores its reply, and resuming on a new connection delivers what was missed, in order, once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aicore.auth import Caller
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.npc.turn import TurnDeps
from aicore.protocol import issue_resume_token
from aicore.sessions.actions import SessionActionDeps
from aicore.topology import TOPOLOGY
from tests.fakes import FakePusher, FakeSessions, ScriptedEndpoint
from tests.npc_turns import CONNECTION, PLAYER, connected, say, turn_deps
from tests.protocol_fakes import FakeResumeTokens

NEW_CONNECTION = "nEwCoNnEcTiOn="
TOKENS = ("Well ", "met, ", "traveller. ", "Rooms ", "are ", "two ", "silver.")


@dataclass
class DropsAfterFirstToken(FakePusher):
    """A client whose connection drops once it has the first token of a turn."""

    def send(self, connection_id: str, frame: dict[str, Any]) -> bool:
        delivered = super().send(connection_id, frame)
        if delivered and frame["type"] == "npc.token" and connection_id == CONNECTION:
            self.gone.add(CONNECTION)
        return delivered


def _world() -> tuple[TurnDeps, SessionActionDeps, FakeResumeTokens]:
    deps = turn_deps(endpoint=ScriptedEndpoint(tokens=TOKENS))
    deps.pusher = DropsAfterFirstToken()
    tokens = FakeResumeTokens()
    session_deps = SessionActionDeps(service=deps.sessions, pusher=deps.pusher, resume_tokens=tokens)
    return deps, session_deps, tokens


def _resume(deps: SessionActionDeps, frame: dict[str, Any], caller: Caller = PLAYER) -> list[dict[str, Any]]:
    """The frames that answer `frame` on NEW_CONNECTION."""
    assert isinstance(deps.pusher, FakePusher)
    before = len(deps.pusher.frames)
    event = connected(json.dumps(frame), caller, route_key="connection.resume")
    event["requestContext"]["connectionId"] = NEW_CONNECTION
    handler = Lambdas().module(TOPOLOGY.function("session-ws")).handler
    assert handler(event, LambdaContext("session-ws", 512, 30), deps=deps) == {"statusCode": 200}
    return [f for c, f in deps.pusher.frames[before:] if c == NEW_CONNECTION]


def _frame(request_id: str, token: str, last_seq: dict[str, int]) -> dict[str, Any]:
    return {
        "action": "connection.resume",
        "request_id": request_id,
        "resume_token": token,
        "last_seq": last_seq,
    }


def _session(deps: TurnDeps) -> tuple[str, list[tuple[int, str, str]]]:
    store = deps.sessions.store
    assert isinstance(store, FakeSessions)
    [(session_id, messages)] = store.messages.items()
    return session_id, [(m.seq, m.speaker.id, m.text) for m in messages]


def test_a_dropped_turn_is_stored_and_resume_delivers_it_once_in_order() -> None:
    # Given a turn whose connection dropped after its first token
    deps, session_deps, tokens = _world()
    token = issue_resume_token(tokens, PLAYER)
    pushed = say(deps)
    assert [f["type"] for c, f in pushed.frames if c == CONNECTION] == ["npc.token"]  # nothing after it

    # Then the turn stored the player's line and the reply all the same
    session_id, stored = _session(deps)
    assert [(seq, who) for seq, who, _ in stored] == [(1, PLAYER.subject), (2, "mira")]
    reply_text = stored[1][2]
    assert reply_text.startswith("Well")

    # When the client reconnects and resumes, having seen nothing of the session
    frame = {
        "action": "connection.resume",
        "request_id": "z-1",
        "resume_token": token,
        "last_seq": {session_id: 0},
    }
    answers = _resume(session_deps, frame)

    # Then it gets both lines, in order, the reply as stored, then connection.resumed
    assert [f["type"] for f in answers] == ["session.message", "session.message", "connection.resumed"]
    assert [(f["data"]["seq"], f["data"]["text"]) for f in answers[:2]] == [
        (1, "Any rooms?"),
        (2, reply_text),
    ]
    assert {f["request_id"] for f in answers} == {"z-1"}
    assert answers[0]["data"]["session_id"] == session_id
    assert answers[-1]["data"] == {
        "sessions": [{"session_id": session_id, "sent": 2, "last_seq": 2, "next_before": None}]
    }

    # And resuming from what it has now sends nothing again
    again = _resume(session_deps, frame | {"request_id": "z-2", "last_seq": {session_id: 2}})
    assert [f["type"] for f in again] == ["connection.resumed"]
    assert again[0]["data"]["sessions"][0] == {
        "session_id": session_id,
        "sent": 0,
        "last_seq": 2,
        "next_before": None,
    }


def test_another_players_token_resumes_nothing() -> None:
    deps, session_deps, tokens = _world()
    theirs = issue_resume_token(tokens, Caller(subject="p2", world_id="demo"))
    say(deps)
    session_id, _ = _session(deps)

    frame = {
        "action": "connection.resume",
        "request_id": "z",
        "resume_token": theirs,
        "last_seq": {session_id: 0},
    }
    answers = _resume(session_deps, frame)

    assert [(f["type"], f["error"]["code"]) for f in answers] == [("error", "forbidden")]


def test_a_session_the_player_may_not_read_fails_the_resume_before_anything_is_sent() -> None:
    deps, session_deps, tokens = _world()
    say(deps)  # p1's session with Mira
    session_id, _ = _session(deps)
    stranger = Caller(subject="p2", world_id="demo")
    token = issue_resume_token(tokens, stranger)
    say(deps, stranger, request_id="r-2")
    [theirs] = [sid for sid in deps.sessions.store.messages if sid != session_id]  # type: ignore[attr-defined]

    frame = {
        "action": "connection.resume",
        "request_id": "z",
        "resume_token": token,
        "last_seq": {theirs: 0, session_id: 0},
    }
    answers = _resume(session_deps, frame, stranger)

    assert [f["type"] for f in answers] == ["error"]
    assert answers[0]["error"]["code"] in ("forbidden", "not_found")


def test_resume_frames_are_bounded() -> None:
    _, session_deps, tokens = _world()
    token = issue_resume_token(tokens, PLAYER)
    too_many = {f"ses_{i}": 0 for i in range(21)}
    for bad in (
        {"last_seq": too_many},
        {"last_seq": {"ses_1": -1}},
        {"last_seq": {"ses_1": "3"}},
        {"resume_token": "short"},
    ):
        frame = {
            "action": "connection.resume",
            "request_id": "z",
            "resume_token": token,
            "last_seq": {},
        } | bad
        [answer] = _resume(session_deps, frame)
        assert answer["error"]["code"] == "invalid_request", bad
