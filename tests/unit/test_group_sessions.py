"""Group sessions over fakes: every line to every participant's connections once, the director, the
prompt naming each speaker, joining an open session."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest

from aicore.auth import Caller, Role
from aicore.connections import new_connection
from aicore.errors import NotFound
from aicore.frames import parse_client_frame
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.npc.director import choose_responder
from aicore.npc.prompt import build_prompt
from aicore.npc.turn import TurnDeps
from aicore.sessions.group import GroupFanOut, is_group, line_frame
from aicore.sessions.models import Message, Participant, ParticipantKind, SessionHead
from aicore.sessions.service import NewSession
from aicore.topology import TOPOLOGY
from aicore.wire import encode_server
from aicore.world.models import Npc
from aicore_client.protobuf import decode_server, wrap_client
from tests.fakes import FakeConnections, FakePusher, ScriptedEndpoint
from tests.npc_turns import CONNECTION, MIRA, PLAYER, TOKEN_EXPIRES_AT, connected, say, turn_deps
from tests.protocol_fakes import FakeRequestLedger

BRAM = Npc(
    npc_id="bram",
    world_id="demo",
    name="Bram Stone",
    persona="Blacksmith who forges swords and mends armour.",
    speech_style="Gruff.",
    greeting="Hm.",
)
STUDIO = Caller(subject="studio", world_id="demo", roles=(Role.STUDIO,))
P2, P3 = Caller(subject="p2", world_id="demo"), Caller(subject="p3", world_id="demo")


def _player(player_id: str) -> Participant:
    return Participant(id=player_id, kind=ParticipantKind.PLAYER)


def _npc(npc_id: str) -> Participant:
    return Participant(id=npc_id, kind=ParticipantKind.NPC)


GROUP = [_player("p1"), _player("p2"), _player("p3"), _npc("mira"), _npc("bram")]


@pytest.fixture
def connections() -> FakeConnections:
    """p1 on the connection that speaks and one more; p2 on two (one protobuf); p3 on one."""
    store = FakeConnections()
    for connection_id, caller, encoding in [
        (CONNECTION, PLAYER, "json"),
        ("p1-phone", PLAYER, "json"),
        ("p2-a", P2, "json"),
        ("p2-b", P2, "protobuf"),
        ("p3-a", P3, "json"),
    ]:
        store.put(new_connection(connection_id, caller, TOKEN_EXPIRES_AT, encoding=encoding))
    return store


@pytest.fixture
def deps(connections: FakeConnections) -> TurnDeps:
    base = turn_deps(endpoint=ScriptedEndpoint())
    base.world.put_npc(BRAM)
    fan_out = GroupFanOut(connections, base.pusher)
    return replace(base, fan_out=fan_out, requests=FakeRequestLedger())


def _group(deps: TurnDeps, participants: list[Participant] = GROUP, **metadata: object) -> str:
    head = deps.sessions.create(STUDIO, NewSession(participants=participants, metadata=dict(metadata)))
    return head.session_id


def _lines_per_connection(pusher: FakePusher) -> dict[str, list[tuple[int, str]]]:
    lines: dict[str, list[tuple[int, str]]] = {}
    for connection_id, frame in pusher.frames:
        if frame["type"] == "session.message":
            lines.setdefault(connection_id, []).append((frame["data"]["seq"], frame["data"]["speaker"]["id"]))
    return lines


def test_a_line_and_its_reply_reach_every_other_connection_once(
    deps: TurnDeps, connections: FakeConnections
) -> None:
    # Given a session of three players and two NPCs, the players on five connections
    session_id = _group(deps)
    # When p1 says a line to Mira from one of their connections
    pusher = say(deps, npc_id="mira", session_id=session_id)
    # Then every other connection (p1's other one too) gets the line and the reply, once each, in order
    expected = [(1, "p1"), (2, "mira")]
    assert _lines_per_connection(pusher) == {
        "p1-phone": expected,
        "p2-a": expected,
        "p2-b": expected,
        "p3-a": expected,
    }
    # And the speaking connection gets its tokens and reply, and no session.message
    speaking = [f["type"] for c, f in pusher.frames if c == CONNECTION]
    assert "session.message" not in speaking
    assert speaking[-1] == "npc.reply"
    [reply] = pusher.of_type("npc.reply")
    assert reply["data"]["chosen_by"] == "addressed"
    # And the frames name the speaker; p2's protobuf connection was told its encoding
    names = {f["data"]["speaker"]["id"]: f["data"]["speaker_name"] for f in pusher.of_type("session.message")}
    assert names == {"p1": "p1", "mira": "Mira"}
    assert pusher.encodings["p2-b"] == "protobuf"
    # And finding them took one Query per player
    assert Counter(connections.player_queries) == {("demo", "p1"): 1, ("demo", "p2"): 1, ("demo", "p3"): 1}


def test_a_repeated_request_pushes_nothing_twice(deps: TurnDeps) -> None:
    session_id = _group(deps)
    say(deps, npc_id="mira", session_id=session_id)
    pusher = say(deps, npc_id="mira", session_id=session_id)  # same request_id: the first answer
    assert Counter(c for c, f in pusher.frames if f["type"] == "session.message") == {
        "p1-phone": 2,
        "p2-a": 2,
        "p2-b": 2,
        "p3-a": 2,
    }
    assert len(pusher.of_type("npc.reply")) == 2


def test_expired_and_gone_connections_do_not_stop_the_others(
    deps: TurnDeps, connections: FakeConnections
) -> None:
    # Given p2's first connection gone and p3's token expired
    connections.put(new_connection("p3-a", P3, expires_at=1))
    assert isinstance(deps.pusher, FakePusher)
    deps.pusher.gone.add("p2-a")
    # When p1 speaks
    pusher = say(deps, npc_id="mira", session_id=_group(deps))
    # Then the rest still get both lines; nothing went to the expired connection
    lines = _lines_per_connection(pusher)
    assert set(lines) == {"p1-phone", "p2-b"}


def test_a_one_to_one_session_pushes_to_nobody_else(deps: TurnDeps, connections: FakeConnections) -> None:
    pusher = say(deps)
    assert pusher.of_type("session.message") == []
    assert connections.player_queries == []
    assert pusher.of_type("npc.reply")[0]["data"]["chosen_by"] is None


def test_the_director_answers_with_the_npc_the_line_names(deps: TurnDeps) -> None:
    session_id = _group(deps)
    pusher = say(deps, npc_id=None, session_id=session_id, text="Bram, can you mend this?")
    [reply] = pusher.of_type("npc.reply")
    assert (reply["data"]["npc_id"], reply["data"]["chosen_by"]) == ("bram", "named")
    # And the next line that names nobody goes to the one who answered last
    pusher = say(deps, npc_id=None, session_id=session_id, text="How much?", request_id="r-2")
    assert pusher.of_type("npc.reply")[-1]["data"]["chosen_by"] == "last_addressed"
    assert pusher.of_type("npc.reply")[-1]["data"]["npc_id"] == "bram"


def test_a_line_with_no_npc_outside_a_session_is_refused(deps: TurnDeps) -> None:
    pusher = say(deps, npc_id=None)
    [error] = pusher.of_type("error")
    assert error["error"]["code"] == "invalid_request"


def test_director_rules_in_order() -> None:
    npcs = [MIRA, BRAM]
    said_by_mira = [Message(seq=1, speaker=_npc("mira"), text="Hello.")]
    # named beats last addressed; the first name said wins; a first name is enough
    assert choose_responder("bram and mira, listen", npcs, said_by_mira).npc_id == "bram"
    assert choose_responder("Ask Bram", npcs, said_by_mira).reason == "named"
    # last addressed when no one is named
    assert choose_responder("and then?", npcs, said_by_mira) == choose_responder("so?", npcs, said_by_mira)
    assert choose_responder("and then?", npcs, said_by_mira).reason == "last_addressed"
    # relevance when nobody spoke yet: the blacksmith for swords; else the first NPC
    relevant = choose_responder("I need a sword forged", npcs, [])
    assert (relevant.npc_id, relevant.reason) == ("bram", "relevance")
    assert choose_responder("hm", npcs, []).npc_id == "mira"
    assert choose_responder("hm", npcs, []).reason == "first"
    # a word inside another is not a name
    assert choose_responder("a bramble bush", npcs, []).reason != "named"


def test_the_prompt_names_every_speaker() -> None:
    history = [
        Message(seq=1, speaker=_player("p2"), text="Evening."),
        Message(seq=2, speaker=_npc("bram"), text="Hm."),
        Message(seq=3, speaker=_npc("mira"), text="Welcome!"),
    ]
    speakers = {"p1": "p1", "p2": "p2", "mira": "Mira", "bram": "Bram Stone"}
    prompt = build_prompt(MIRA, [], None, history, "Any rooms?", speakers=speakers, speaker_id="p1")
    assert "p1, p2, Bram Stone and you" in prompt[0].content
    assert [(m.role, m.content) for m in prompt[1:]] == [
        ("user", "p2: Evening."),
        ("user", "Bram Stone: Hm."),
        ("assistant", "Welcome!"),
        ("user", "p1: Any rooms?"),
    ]


def test_a_player_joins_an_open_session_but_not_a_closed_one(deps: TurnDeps) -> None:
    # Given an open and a closed session without p3
    members = [_player("p1"), _npc("mira"), _npc("bram")]
    open_one, closed = _group(deps, members, open=True), _group(deps, members)
    # When p3 joins both
    joined = deps.sessions.add_participant(P3, open_one, _player("p3"))
    assert joined.includes("p3")
    assert is_group(joined)
    with pytest.raises(NotFound):
        deps.sessions.add_participant(P3, closed, _player("p3"))
    # And joining the open one as someone else is not allowed either
    with pytest.raises(NotFound):
        deps.sessions.add_participant(P2, open_one, _npc("mira"))


def test_group_sessions_are_more_than_one_player_or_npc() -> None:
    def head(*participants: Participant) -> SessionHead:
        return SessionHead(world_id="demo", participants=list(participants))

    assert not is_group(head(_player("p1"), _npc("mira")))
    assert is_group(head(_player("p1"), _player("p2"), _npc("mira")))
    assert is_group(head(_player("p1"), _npc("mira"), _npc("bram")))


def test_group_frames_read_the_same_in_both_encodings() -> None:
    # An npc.say for the director (no npc_id), and a group line as the other participants get it
    said = {"action": "npc.say", "request_id": "g-1", "session_id": "ses_1", "text": "Bram?"}
    assert parse_client_frame(json.dumps(wrap_client(said))) == parse_client_frame(json.dumps(said))
    line = Message(seq=3, speaker=_player("p2"), text="Evening.", created_at="2026-12-01T07:00:00Z")
    frame = line_frame("ses_1", line, "p2")
    assert frame["request_id"] is None
    assert frame["data"]["speaker_name"] == "p2"
    as_json = json.loads(json.dumps(frame))
    assert decode_server(encode_server(frame)) == {k: v for k, v in as_json.items() if v is not None} | {
        "data": {k: v for k, v in as_json["data"].items() if v is not None}
    }


def _scene(deps: TurnDeps, **frame: object) -> FakePusher:
    """p1 asks for a scene on CONNECTION (fields override the frame); the frames pushed."""
    body = {"action": "session.scene", "request_id": "s-1", "npc_ids": ["mira", "bram"]} | frame
    handler = Lambdas().module(TOPOLOGY.function("npc-say")).handler
    event = connected(json.dumps(body), PLAYER, route_key="session.scene")
    assert handler(event, LambdaContext("npc-say", 1024, 60), deps=deps) == {"statusCode": 200}
    assert isinstance(deps.pusher, FakePusher)
    return deps.pusher


def test_a_scene_is_bounded_stored_and_pushed_to_every_connection_once(deps: TurnDeps) -> None:
    # Given the group session
    session_id = _group(deps)
    # When p1 asks Mira and Bram for three lines about the storm
    pusher = _scene(deps, session_id=session_id, topic="the storm", lines=3)
    # Then the answer lists three lines, the NPCs taking turns
    [answer] = pusher.of_type("session.scene")
    assert answer["ok"], answer
    lines = answer["data"]["lines"]
    assert [(line["seq"], line["npc_id"]) for line in lines] == [(1, "mira"), (2, "bram"), (3, "mira")]
    # And every connection, the asking one too, got each line once, in order
    expected = [(1, "mira"), (2, "bram"), (3, "mira")]
    assert _lines_per_connection(pusher) == {
        CONNECTION: expected,
        "p1-phone": expected,
        "p2-a": expected,
        "p2-b": expected,
        "p3-a": expected,
    }
    assert answer["data"]["pushed"] == 15
    # And the lines are in the session
    stored = deps.sessions.messages(PLAYER, session_id, None, 10).messages
    assert [m.text for m in stored] == [line["text"] for line in lines]
    # And a repeat gets the same answer, nothing said or pushed again
    again = _scene(deps, session_id=session_id, topic="the storm", lines=3)
    assert again.of_type("session.scene")[-1]["data"] == answer["data"]
    assert len(again.of_type("session.message")) == 15


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"lines": 7}, "invalid_request"),  # the hard bound
        ({"npc_ids": ["mira"]}, "invalid_request"),
        ({"npc_ids": ["mira", "mira"]}, "invalid_request"),
        ({"npc_ids": ["mira", "odo"]}, "not_found"),  # not in the session
    ],
)
def test_bad_scenes_are_refused_before_anything_is_said(
    deps: TurnDeps, frame: dict[str, object], code: str
) -> None:
    session_id = _group(deps)
    pusher = _scene(deps, session_id=session_id, **frame)
    [error] = pusher.of_type("error")
    assert error["error"]["code"] == code
    assert pusher.of_type("session.message") == []
