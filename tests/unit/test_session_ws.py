"""The WebSocket session actions over fakes: history, join, leave, each answered with one frame."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from aicore.auth import Caller
from aicore.frames import SessionHistory, SessionJoin, parse_client_frame
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.sessions.actions import SessionActionDeps
from aicore.sessions.models import Participant, ParticipantKind, SessionHead
from aicore.sessions.service import NewMessages, SessionService, SpokenLine
from aicore.topology import TOPOLOGY
from tests.fakes import FakeColdTier, FakePublisher, FakePusher, FakeSessions
from tests.npc_turns import connected

CONNECTION = "bZ1wrcG1IAMCJbA="
PLAYER = Participant(id="p1", kind=ParticipantKind.PLAYER)
NPC = Participant(id="mira", kind=ParticipantKind.NPC)


@pytest.fixture
def deps() -> SessionActionDeps:
    sessions = FakeSessions()
    service = SessionService(sessions, FakeColdTier(sessions), FakePublisher())
    return SessionActionDeps(service=service, pusher=FakePusher())


@pytest.fixture
def session(deps: SessionActionDeps) -> SessionHead:
    head = deps.service.store.create(SessionHead(world_id="demo", participants=[PLAYER, NPC]))
    lines = NewMessages(messages=[SpokenLine(text=f"line {i}") for i in range(1, 8)])
    deps.service.append(Caller(subject="p1", world_id="demo"), head.session_id, lines)
    return head


def _send(deps: SessionActionDeps, frame: dict[str, Any]) -> dict[str, Any]:
    event = connected(json.dumps({"request_id": "r-1", **frame}), route_key=frame["action"])
    handler = Lambdas().module(TOPOLOGY.function("session-ws")).handler
    assert handler(event, LambdaContext("session-ws", 512, 30), deps=deps) == {"statusCode": 200}
    assert isinstance(deps.pusher, FakePusher)
    connection_id, answer = deps.pusher.frames[-1]
    assert connection_id == CONNECTION
    assert answer["request_id"] == "r-1"
    return answer


def test_history_pages_back(deps: SessionActionDeps, session: SessionHead) -> None:
    answer = _send(
        deps, {"action": "session.history", "session_id": session.session_id, "before": 6, "limit": 2}
    )
    assert answer["type"] == "session.history"
    assert [m["seq"] for m in answer["data"]["messages"]] == [4, 5]
    assert answer["data"]["next_before"] == 4


def test_join_brings_an_npc_in_and_leave_takes_the_player_out(
    deps: SessionActionDeps, session: SessionHead
) -> None:
    joined = _send(
        deps,
        {
            "action": "session.join",
            "session_id": session.session_id,
            "participant_id": "guard",
            "kind": "npc",
        },
    )
    assert joined["type"] == "session.joined"
    assert {p["id"] for p in joined["data"]["participants"]} == {"p1", "mira", "guard"}
    left = _send(deps, {"action": "session.leave", "session_id": session.session_id})
    assert left["type"] == "session.left"
    assert {p["id"] for p in left["data"]["participants"]} == {"mira", "guard"}
    # And the session is now hidden from them
    hidden = _send(deps, {"action": "session.history", "session_id": session.session_id})
    assert (hidden["type"], hidden["error"]["code"]) == ("error", "not_found")


def test_a_player_cannot_take_someone_else_out(deps: SessionActionDeps, session: SessionHead) -> None:
    answer = _send(
        deps, {"action": "session.leave", "session_id": session.session_id, "participant_id": "mira"}
    )
    assert (answer["type"], answer["error"]["code"]) == ("error", "forbidden")


def test_session_frames_parse_and_validate() -> None:
    frame = parse_client_frame('{"action": "session.history", "request_id": "r", "session_id": "ses_1"}')
    assert isinstance(frame, SessionHistory)
    assert (frame.before, frame.limit) == (None, 50)
    join = parse_client_frame('{"action": "session.join", "request_id": "r", "session_id": "ses_1"}')
    assert isinstance(join, SessionJoin)
    assert (join.participant_id, join.kind) == (None, ParticipantKind.PLAYER)
    for bad in ('{"limit": 0}', '{"limit": 201}', '{"before": 0}', '{"extra": 1}'):
        body = {"action": "session.history", "request_id": "r", "session_id": "ses_1", **json.loads(bad)}
        with pytest.raises(ValidationError):
            parse_client_frame(json.dumps(body))
