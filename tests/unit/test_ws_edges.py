"""What clients can send over the WebSocket, through the real frame handlers over fakes, routed as
API Gateway routes: every frame gets one answer in the envelope, the handler never fails (a Lambda
error pages someone), and nothing the client sent is quoted back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aicore.frames import KNOWN_ACTIONS
from aicore.inputs import MAX_JSON_DEPTH
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.topology import TOPOLOGY
from tests.edge_calls import WsEdge
from tests.npc_turns import CONNECTION

ENVELOPE_KEYS = {
    "type",
    "request_id",
    "ok",
    "service",
    "operation",
    "correlation_id",
    "duration_ms",
    "data",
    "error",
}
MAX_ERROR_FRAME_BYTES = 2048


@pytest.fixture
def edge() -> WsEdge:
    return WsEdge()


def assert_error(frame: dict[str, Any], code: str) -> None:
    assert set(frame) == ENVELOPE_KEYS, frame
    assert (frame["type"], frame["ok"], frame["error"]["code"]) == ("error", False, code), frame
    assert len(json.dumps(frame)) < MAX_ERROR_FRAME_BYTES


def say(**fields: Any) -> str:
    return json.dumps({"action": "npc.say", "request_id": "r-1", "npc_id": "mira", "text": "hi"} | fields)


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "frame",
    [
        "[" * 1000 + "]" * 1000,  # no readable action: $default
        '{"action": "npc.say", "request_id": "r-1", "x": ' + "[" * 1000 + "]" * 1000 + "}",
        '{"action": "session.history", "request_id": "r-1", "x": ' + '{"a":' * 150 + "1" + "}" * 150 + "}",
        say(text="hi", session_id=None, extra=nested(MAX_JSON_DEPTH + 1)),
    ],
    ids=["array-1000-default", "npc-say-1000", "session-150", "npc-say-33"],
)
def test_a_frame_nested_too_deep_is_invalid_request_on_its_route(edge: WsEdge, frame: str) -> None:
    # 1,000 deep raised RecursionError in the handlers: no answer, and a Lambda error
    answer = edge.send(frame)
    assert_error(answer, "invalid_request")
    assert f"more than {MAX_JSON_DEPTH} levels deep" in answer["error"]["message"]


def test_an_unknown_action_is_named_not_quoted(edge: WsEdge) -> None:
    # A 120 KB action came back whole in a 120 KB error frame
    answer = edge.send(json.dumps({"action": "x" * 120_000, "request_id": "r-1"}))
    assert_error(answer, "unknown_action")
    assert answer["error"]["details"] == {"known_actions": list(KNOWN_ACTIONS)}
    assert answer["request_id"] == "r-1"


def test_thousands_of_unknown_fields_get_a_short_answer_that_names_none_of_them(edge: WsEdge) -> None:
    fields = {f"<i>{i}</i>": i for i in range(5000)}
    answer = edge.send(say(**fields))
    assert_error(answer, "invalid_request")
    assert len(answer["error"]["details"]["fields"]) == 10
    assert answer["error"]["details"]["more"] == 4990
    assert "<i>" not in json.dumps(answer)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        # a lone surrogate escape names no character: it cannot be stored or sent on
        ('{"action": "npc.say", "request_id": "r-1", "npc_id": "mira", "text": "\\ud800"}', "invalid_json"),
        ('{"action": "npc.say", "request_id": "r-1", "npc_id": "mira", "text": NaN}', "invalid_json"),
        (
            '{"action": "session.history", "request_id": "r-1", "session_id": "s", "before": 1e999}',
            "invalid_request",
        ),
        (
            json.dumps(
                {"action": "session.history", "request_id": "r-1", "session_id": "s", "before": 10**30}
            ),
            "invalid_request",
        ),
        (say(npc_id="<b>mira</b>"), "invalid_request"),
        (say(request_id="<b>r</b>"), "invalid_request"),
        (say(request_id="r" * 129), "invalid_request"),
    ],
)
def test_values_we_cannot_store_or_echo_are_refused_at_the_edge(edge: WsEdge, frame: str, code: str) -> None:
    answer = edge.send(frame)
    assert_error(answer, code)
    assert "<b>" not in json.dumps(answer)


def test_a_request_id_that_is_not_an_identifier_is_not_echoed(edge: WsEdge) -> None:
    answer = edge.send(say(request_id="<script>"))
    assert answer["request_id"] is None
    assert "script" not in json.dumps(answer)


def test_a_binary_frame_gets_an_error_frame(edge: WsEdge) -> None:
    answer = edge.send(b"\x00\xff" * 10)
    assert_error(answer, "invalid_request")
    assert "protobuf ClientFrame" in answer["error"]["message"]


@pytest.mark.parametrize("route_key", ["npc.say", "session.history", "$default"])
@pytest.mark.parametrize(
    "breaks",
    [
        lambda event: event["requestContext"].pop("requestId"),
        lambda event: event["requestContext"].pop("routeKey"),
        lambda event: event.update(body=["not", "text"]),
        lambda event: event.update(isBase64Encoded="maybe"),
        lambda event: event["requestContext"].update(connectionId=""),
    ],
)
def test_an_event_the_handler_cannot_read_answers_the_connection_if_it_can(
    edge: WsEdge, route_key: str, breaks: Any
) -> None:
    # Given an event broken before the envelope (WebSocketRequest.model_validate raised: a Lambda error)
    event = edge.event(say(), route_key)
    breaks(event)
    function = TOPOLOGY.websocket_route(route_key)
    assert function is not None
    deps: dict[str, dict[str, Any]] = {
        "npc-say": {"deps": edge.turn},
        "session-ws": {"deps": edge.session_deps},
        "ws-default": {"pusher": edge.pusher, "interrupts": edge.interrupts},
    }
    # When the handler runs, it returns (no exception), and answers in the envelope where it can
    result = (
        Lambdas()
        .module(function)
        .handler(event, LambdaContext(function.name, 512, 30), **deps[function.name])
    )
    if event["requestContext"].get("connectionId"):
        assert result == {"statusCode": 200}
        connection_id, answer = edge.pusher.frames[-1]
        assert connection_id == CONNECTION
        assert_error(answer, "internal_error")
    else:
        assert result == {"statusCode": 500}
        assert edge.pusher.frames == []


@pytest.mark.parametrize("function_name", ["ws-connect", "ws-disconnect"])
def test_connect_and_disconnect_events_without_a_connection_id_do_not_fail_the_lambda(
    function_name: str,
) -> None:
    from tests.fakes import FakeConnections

    function = TOPOLOGY.function(function_name)
    result = (
        Lambdas()
        .module(function)
        .handler(
            {"requestContext": {"routeKey": "$connect"}},
            LambdaContext(function_name, 256, 10),
            store=FakeConnections(),
        )
    )
    assert result == {"statusCode": 500}


# --- fuzz: any frame a client can send ----------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    ["request_id", "npc_id", "text", "session_id", "before", "limit", "participant_id", "kind"]
)
FRAMES = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=100),
    JSON_VALUES.map(json.dumps),
    st.builds(
        lambda action, fields: json.dumps({"action": action, **fields}),
        st.sampled_from([*KNOWN_ACTIONS, "npc.dance", ""]) | st.text(max_size=20),
        st.dictionaries(FIELDS, JSON_VALUES, max_size=6),
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=FRAMES)
def test_every_frame_gets_exactly_one_answer_and_none_is_our_fault(edge: WsEdge, frame: str | bytes) -> None:
    # Given any frame, routed as API Gateway would route it
    before = len(edge.pusher.frames)
    answer = edge.send(frame)
    # Then the handler answers once (tokens aside), in the envelope, and never with internal_error
    finals = [f for _, f in edge.pusher.frames[before:] if f["type"] != "npc.token"]
    assert finals == [answer]
    assert set(answer) == ENVELOPE_KEYS
    assert answer["ok"] or answer["error"]["code"] != "internal_error", answer


def test_a_history_page_too_large_for_one_frame_is_cut_and_pages_on(edge: WsEdge) -> None:
    # Given a session of 200 long lines (4,000 characters that JSON escapes: ~24 KB each)
    from aicore.sessions.models import Participant, ParticipantKind, SessionHead
    from aicore.sessions.service import NewMessages, SpokenLine
    from tests.npc_turns import PLAYER

    participants = [
        Participant(id="p1", kind=ParticipantKind.PLAYER),
        Participant(id="mira", kind=ParticipantKind.NPC),
    ]
    head = edge.turn.sessions.store.create(SessionHead(world_id="demo", participants=participants))
    for batch in range(8):
        lines = [SpokenLine(text=f"{batch * 25 + i:03d}" + "é" * 3996) for i in range(25)]
        edge.turn.sessions.append(PLAYER, head.session_id, NewMessages(messages=lines))
    # When the client asks for all 200 at once, then follows next_before (200 x 24 KB answered
    # in one frame was over API Gateway's 128 KB: the push failed and so did the Lambda)
    seen: list[int] = []
    before: int | None = None
    while True:
        frame = {"action": "session.history", "request_id": "h", "session_id": head.session_id, "limit": 200}
        answer = edge.send(json.dumps(frame | ({"before": before} if before else {})))
        assert answer["type"] == "session.history", answer
        seen = [m["seq"] for m in answer["data"]["messages"]] + seen
        before = answer["data"]["next_before"]
        if before is None:
            break
    # Then every message arrives once, in order, over several frames that each fit
    assert seen == list(range(1, 201))
    assert len(edge.pusher.frames) > 2
