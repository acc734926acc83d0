"""The connection handlers through their real entry points, over fakes and tests/events fixtures.

authorizer (WebSocket `$connect` and HTTP API), ws-connect, ws-disconnect and ws-default.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aicore.auth import Caller, Role
from aicore.connections import new_connection
from aicore.identity.keys import SigningKey
from aicore.identity.tokens import TokenIssuer
from aicore.platform.settings import SettingsCache
from tests.events import load_event
from tests.fakes import FakeConnections, FakePusher
from tests.handlers import invoke
from tests.npc_turns import TOKEN_EXPIRES_AT
from tests.platform_fakes import FakeSettingsStore

ISSUER = TokenIssuer(SigningKey.generate(), "aicore", "aicore-game")
MIRA_PLAYER = Caller(subject="p1", world_id="demo")
STUDIO = Caller(subject="tools", world_id="demo", roles=(Role.STUDIO, Role.ADMIN))
CONNECTION = "bZ1wrcG1IAMCJbA="  # the connection id of the ws_* fixtures


def _ws_authorizer_event(token: str | None) -> dict[str, Any]:
    event = load_event("ws_authorizer")
    event["queryStringParameters"] = {} if token is None else {"token": token}
    return event


def _http_authorizer_event(authorization: str | None) -> dict[str, Any]:
    event = load_event("http_authorizer")
    if authorization is None:
        del event["headers"]["authorization"]
    else:
        event["headers"]["authorization"] = authorization
    return event


# --- authorizer -----------------------------------------------------------------------------------


def test_a_websocket_connect_with_a_valid_token_is_allowed_with_the_callers_context() -> None:
    answer = invoke("authorizer", _ws_authorizer_event(ISSUER.issue(STUDIO)), verifier=ISSUER.verifier)

    assert answer["principalId"] == "tools"
    [statement] = answer["policyDocument"]["Statement"]
    assert statement == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": load_event("ws_authorizer")["methodArn"],
    }
    context = dict(answer["context"])
    assert context.pop("expires_at").isdigit()  # every later frame checks the token still holds
    assert context == {"subject": "tools", "world_id": "demo", "roles": "studio,admin", "encoding": "json"}


@pytest.mark.parametrize(
    "token",
    [
        None,
        "not-a-jwt",
        TokenIssuer(SigningKey.generate(), "aicore", "aicore-game").issue(STUDIO),
    ],
    ids=["missing", "garbage", "signed-by-another-key"],
)
def test_a_websocket_connect_without_a_valid_token_is_refused_as_api_gateway_expects(
    token: str | None,
) -> None:
    # API Gateway answers 401 when the authorizer raises exactly "Unauthorized"
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        invoke("authorizer", _ws_authorizer_event(token), verifier=ISSUER.verifier)


def test_an_expired_token_is_refused() -> None:
    expired = ISSUER.issue(MIRA_PLAYER, ttl_s=-60)
    assert invoke("authorizer", _http_authorizer_event(f"Bearer {expired}"), verifier=ISSUER.verifier) == {
        "isAuthorized": False,
        "context": {},
    }


def test_an_http_request_with_a_bearer_token_is_authorized_with_the_callers_context() -> None:
    answer = invoke(
        "authorizer", _http_authorizer_event(f"Bearer {ISSUER.issue(MIRA_PLAYER)}"), verifier=ISSUER.verifier
    )
    assert answer["isAuthorized"] is True
    context = dict(answer["context"])
    assert context.pop("expires_at").isdigit()
    assert context == {"subject": "p1", "world_id": "demo", "roles": "player"}


@pytest.mark.parametrize("authorization", [None, "Basic cDE6c2VjcmV0", "Bearer ", "Bearer not-a-jwt"])
def test_an_http_request_without_a_valid_bearer_token_is_not_authorized(authorization: str | None) -> None:
    answer = invoke("authorizer", _http_authorizer_event(authorization), verifier=ISSUER.verifier)
    assert answer == {"isAuthorized": False, "context": {}}


# --- $connect, $disconnect ------------------------------------------------------------------------


def test_connect_records_who_the_authorizer_verified() -> None:
    # Given the context the authorizer gave this connection
    store = FakeConnections()
    event = load_event("ws_connect")
    event["requestContext"]["authorizer"] = invoke(
        "authorizer", _ws_authorizer_event(ISSUER.issue(STUDIO)), verifier=ISSUER.verifier
    )["context"]

    # When $connect runs
    assert invoke("ws-connect", event, store=store, settings=SettingsCache(FakeSettingsStore())) == {
        "statusCode": 200
    }

    # Then the connection is stored with that caller
    connection = store.get(CONNECTION)
    assert connection is not None
    assert connection.caller == STUDIO


def test_connect_without_a_verified_identity_is_refused_and_stores_nothing() -> None:
    store = FakeConnections()
    event = load_event("ws_connect")
    event["requestContext"]["authorizer"] = {"principalId": "p1"}  # no subject, no world

    assert invoke("ws-connect", event, store=store) == {"statusCode": 401}
    assert store.items == {}


def test_disconnect_forgets_the_connection_and_a_second_delivery_is_harmless() -> None:
    store = FakeConnections()
    store.put(new_connection(CONNECTION, MIRA_PLAYER, TOKEN_EXPIRES_AT))
    store.put(new_connection("other=", MIRA_PLAYER, TOKEN_EXPIRES_AT))

    assert invoke("ws-disconnect", load_event("ws_disconnect"), store=store) == {"statusCode": 200}
    assert invoke("ws-disconnect", load_event("ws_disconnect"), store=store) == {"statusCode": 200}

    assert list(store.items) == ["other="]


# --- $default -------------------------------------------------------------------------------------


def _default(body: str, **event: Any) -> dict[str, Any]:
    pusher = FakePusher()
    message = load_event("ws_message", body=body, **event)
    message["requestContext"]["routeKey"] = "$default"
    assert invoke("ws-default", message, pusher=pusher) == {"statusCode": 200}
    [(connection_id, frame)] = pusher.frames
    assert connection_id == CONNECTION
    return frame


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "invalid_json"),
        ("", "invalid_json"),
        ('{"text": "no action"}', "unknown_action"),
        ('{"action": "dance", "request_id": "r-9"}', "unknown_action"),
        ("[1, 2]", "invalid_request"),
    ],
)
def test_a_frame_no_route_took_gets_an_error_frame_that_says_why(body: str, code: str) -> None:
    frame = _default(body)

    assert (frame["type"], frame["ok"], frame["error"]["code"]) == ("error", False, code)
    assert frame["operation"] == "frame.route"
    assert frame["correlation_id"] == load_event("ws_message")["requestContext"]["requestId"]
    if code == "unknown_action":
        assert "npc.say" in frame["error"]["details"]["known_actions"]


def test_the_error_frame_keeps_the_clients_request_id_and_never_echoes_the_frame() -> None:
    frame = _default('{"action": "dance", "request_id": "r-9", "secret": "hunter2"}')
    assert frame["request_id"] == "r-9"
    assert "hunter2" not in json.dumps(frame)


def test_a_binary_frame_that_is_no_protobuf_frame_is_refused_with_a_hint() -> None:
    frame = _default("AAEC", isBase64Encoded=True)
    assert frame["error"]["code"] == "invalid_request"
    assert "protobuf ClientFrame (schemas/frames.proto)" in frame["error"]["message"]


def test_a_known_action_reaching_default_is_our_fault_and_says_so_without_a_trace() -> None:
    # A route missing from the deployment: the client did nothing wrong
    frame = _default('{"action": "npc.say", "request_id": "r-1", "npc_id": "mira", "text": "hi"}')

    assert frame["error"]["code"] == "internal_error"
    correlation_id = load_event("ws_message")["requestContext"]["requestId"]
    assert correlation_id in frame["error"]["message"]
    assert "Traceback" not in json.dumps(frame)
    assert "reached $default" not in json.dumps(frame)
