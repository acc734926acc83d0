"""API Gateway's event shapes and answer rules, checked against Powertools' models."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    ApiGatewayAuthorizerRequestV2,
    APIGatewayProxyEventV2Model,
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from hypothesis import given
from hypothesis import strategies as st

from aicore.local.apigw_events import (
    Api,
    Handshake,
    HttpRequest,
    MalformedAnswer,
    WebSocketPeer,
    clf_time,
    comma_joined,
    http_authorizer_event,
    http_proxy_event,
    http_response_from_answer,
    is_text_media_type,
    iso_time,
    new_connection_id,
    policy_allows,
    select_route_key,
    simple_authorizer_decision,
    websocket_connect_event,
    websocket_disconnect_event,
    websocket_message_event,
)
from aicore.local.websocket_api import client_close_status

WS_API = Api("wsapi00001", "local")
HTTP_API = Api("httpapi001", "$default")
ROUTE_KEYS = ["$connect", "$disconnect", "$default", "npc.say"]


def peer(authorizer: dict[str, Any] | None = None) -> WebSocketPeer:
    return WebSocketPeer("AbCdEfGhIjKlMnO=", "127.0.0.1:8000", "127.0.0.1", "tests", authorizer=authorizer)


def request(**overrides: Any) -> HttpRequest:
    fields: dict[str, Any] = {
        "method": "GET",
        "raw_path": "/sessions/s1",
        "raw_query": "",
        "headers": [("Host", "127.0.0.1:8000"), ("User-Agent", "tests")],
        "source_ip": "127.0.0.1",
        "domain_name": "127.0.0.1:8000",
    }
    return HttpRequest(**(fields | overrides))


# --- WebSocket ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "route"),
    [
        ('{"action": "npc.say"}', "npc.say"),
        ('{"action": "quest.accept"}', "$default"),
        ('{"action": "$disconnect"}', "$default"),
        ('{"action": ["npc.say"]}', "$default"),
        ('"npc.say"', "$default"),
        ("{not json", "$default"),
        (b'{"action": "npc.say"}', "$default"),
        # nested deeper than a JSON reader takes: the expression cannot be evaluated
        ('{"action": "npc.say", "x": ' + "[" * 1000 + "]" * 1000 + "}", "$default"),
        ("[" * 100_000 + "]" * 100_000, "$default"),
        # deep, but readable: routed on its action (the handler refuses the depth itself)
        ('{"action": "npc.say", "x": ' + "[" * 40 + "]" * 40 + "}", "npc.say"),
    ],
)
def test_route_selection_by_action(frame: str | bytes, route: str) -> None:
    assert select_route_key(frame, ROUTE_KEYS) == route


@given(st.one_of(st.text(), st.binary()))
def test_route_selection_never_raises_and_always_names_a_route(frame: str | bytes) -> None:
    assert select_route_key(frame, ROUTE_KEYS) in ROUTE_KEYS


@given(depth=st.integers(0, 5000), opener=st.sampled_from(["[", '{"a":']), action=st.booleans())
def test_route_selection_of_nested_frames_never_raises(depth: int, opener: str, action: bool) -> None:
    # Given a frame nesting objects or arrays to any depth (1,000 deep once dropped the connection)
    closer = "]" if opener == "[" else "}"
    nested = opener * depth + "0" + closer * depth
    frame = '{"action": "npc.say", "x": ' + nested + "}" if action else nested
    # Then route selection names a route: the action's while readable, else $default
    assert select_route_key(frame, ROUTE_KEYS) in ROUTE_KEYS


def test_websocket_events_parse_with_powertools_models() -> None:
    connected = peer({"principalId": "p1", "world_id": "w1"})
    handshake = Handshake([("Host", "127.0.0.1:8000"), ("X-Correlation-Id", "c1")], [("token", "t")])

    connect = APIGatewayWebSocketConnectEventModel.model_validate(
        websocket_connect_event(WS_API, connected, handshake)
    )
    text = APIGatewayWebSocketMessageEventModel.model_validate(
        websocket_message_event(WS_API, connected, "npc.say", "{}")
    )
    binary = websocket_message_event(WS_API, connected, "$default", b"\x00\xff")
    disconnect = APIGatewayWebSocketDisconnectEventModel.model_validate(
        websocket_disconnect_event(WS_API, connected, 1001, "Going away")
    )

    assert connect.headers["X-Correlation-Id"] == "c1"
    assert connect.request_context.stage == "local"
    assert (text.body, text.is_base64_encoded) == ("{}", False)
    assert (base64.b64decode(binary["body"]), binary["isBase64Encoded"]) == (b"\x00\xff", True)
    assert disconnect.request_context.disconnect_status_code == 1001
    assert binary["requestContext"]["authorizer"] == {"principalId": "p1", "world_id": "w1"}


def test_connection_ids_look_like_api_gateways() -> None:
    ids = {new_connection_id() for _ in range(100)}

    assert len(ids) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9]{15}=", i) for i in ids)


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        ([{"Effect": "Allow"}], True),
        ({"Effect": "Allow"}, True),
        ([{"Effect": "Deny"}], False),
        ([{"Effect": "Allow"}, {"Effect": "Deny"}], False),
        ([], False),
    ],
)
def test_policy_allows_only_with_an_allow_and_no_deny(statement: Any, allowed: bool) -> None:
    assert policy_allows({"principalId": "p", "policyDocument": {"Statement": statement}}) is allowed


@pytest.mark.parametrize(
    "answer", [None, "Allow", {"principalId": "p"}, {"policyDocument": {"Statement": [{}]}}]
)
def test_a_policy_answer_without_a_policy_is_malformed(answer: Any) -> None:
    with pytest.raises(MalformedAnswer):
        policy_allows(answer)


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        (1000, "", (1000, "")),
        (4001, "bye", (4001, "bye")),
        (None, None, (1005, "Client-side close frame status not set")),
    ],
)
def test_client_close_status(code: int | None, reason: str | None, expected: tuple[int, str]) -> None:
    assert client_close_status(code, reason) == expected


# --- HTTP API ----------------------------------------------------------------------------------


def test_http_event_joins_repeats_lowercases_headers_and_splits_cookies() -> None:
    incoming = request(
        raw_query="a=1&a=2&b=x%20y",
        headers=[("Accept", "a"), ("accept", "b"), ("Cookie", "c1=1; c2=2"), ("User-Agent", "tests")],
    )

    event = APIGatewayProxyEventV2Model.model_validate(
        http_proxy_event(HTTP_API, incoming, "GET /s/{id}", {"id": "s1"})
    )

    assert event.headers["accept"] == "a,b"
    assert "cookie" not in event.headers
    assert event.cookies == ["c1=1", "c2=2"]
    assert event.queryStringParameters == {"a": "1,2", "b": "x y"}
    assert event.pathParameters == {"id": "s1"}
    assert event.requestContext.http.userAgent == "tests"


def test_http_event_leaves_out_what_the_request_does_not_have() -> None:
    event = http_proxy_event(HTTP_API, request(), "GET /sessions/{id}", {})

    assert not {"body", "cookies", "queryStringParameters", "pathParameters"} & event.keys()
    assert (event["rawQueryString"], event["isBase64Encoded"]) == ("", False)
    assert "authorizer" not in event["requestContext"]


def test_http_authorizer_event_parses_and_names_the_route_arn() -> None:
    incoming = request(method="POST", headers=[("Authorization", "Bearer t")], body=b"{}")

    event = ApiGatewayAuthorizerRequestV2.model_validate(
        http_authorizer_event(HTTP_API, incoming, "POST /sessions/{id}", {"id": "s1"})
    )

    assert event.routeArn == "arn:aws:execute-api:us-east-1:123456789012:httpapi001/$default/POST/sessions/s1"
    assert event.identitySource == ["Bearer t"]
    assert event.body is None


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("text/plain", True),
        ("application/problem+json", True),
        ("application/x-protobuf", False),
        ("image/png", False),
        (None, False),
    ],
)
def test_text_media_types(content_type: str | None, text: bool) -> None:
    assert is_text_media_type(content_type) is text


def test_answer_without_status_code_is_json_200() -> None:
    for answer in ({"a": 1}, "hello", [1, 2], None):
        response = http_response_from_answer(answer)
        assert (response.status, json.loads(response.body)) == (200, answer)
        assert response.headers == [("Content-Type", "application/json")]


def test_answer_with_status_code_sets_headers_cookies_and_decodes_base64() -> None:
    response = http_response_from_answer(
        {
            "statusCode": 202,
            "headers": {"x-a": 1, "Content-Length": "999"},
            "cookies": ["k=v"],
            "body": base64.b64encode(b"\x01\x02").decode(),
            "isBase64Encoded": True,
        }
    )

    assert response.status == 202
    assert response.headers == [("x-a", "1"), ("Set-Cookie", "k=v")]
    assert response.body == b"\x01\x02"


@pytest.mark.parametrize(
    "answer",
    [
        {"statusCode": "teapot"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
    ],
)
def test_answers_api_gateway_cannot_use_are_malformed(answer: dict[str, Any]) -> None:
    with pytest.raises(MalformedAnswer):
        http_response_from_answer(answer)


def test_simple_authorizer_decision() -> None:
    assert simple_authorizer_decision({"isAuthorized": True, "context": {"p": 1}}) == (True, {"p": 1})
    assert simple_authorizer_decision({"isAuthorized": False}) == (False, {})
    with pytest.raises(MalformedAnswer):
        simple_authorizer_decision({"isAuthorized": "yes"})


def test_time_formats() -> None:
    at_ms = 1602873016390

    assert clf_time(at_ms) == "16/Oct/2020:18:30:16 +0000"
    assert iso_time(at_ms) == "2020-10-16T18:30:16.390Z"


def test_comma_joined_keeps_order_of_repeats() -> None:
    assert comma_joined([("A", "1"), ("a", "2"), ("B", "3")], lower_names=True) == {"a": "1,2", "b": "3"}
