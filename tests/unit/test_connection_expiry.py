"""A connection lives no longer than its token: recorded at $connect, checked on every frame,
closed at the first frame after expiry. Time is an injected clock: nothing sleeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from aicore.auth import EXPIRES_AT, Caller
from aicore.clock import Clock
from aicore.connections import Connection, ConnectionExpired, require_connection
from aicore.identity.keys import SigningKey
from aicore.identity.tokens import TokenIssuer
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.platform.settings import SettingsCache
from aicore.topology import TOPOLOGY
from tests.edge_calls import HttpEdge, WsEdge
from tests.events import load_event
from tests.fakes import FakeConnections
from tests.npc_turns import CONNECTION, PLAYER, TOKEN_EXPIRES_AT
from tests.platform_fakes import FakeSettingsStore

ISSUER = TokenIssuer(SigningKey.generate(), "aicore", "aicore-game")


def at(epoch_s: float) -> Clock:
    return lambda: datetime.fromtimestamp(epoch_s, UTC)


def handler(name: str) -> Any:
    return Lambdas().module(TOPOLOGY.function(name)).handler


def test_the_authorizer_context_carries_the_token_expiry() -> None:
    # Given a token that expires in ten minutes
    token = ISSUER.issue(PLAYER, ttl_s=600)
    expiry = ISSUER.verify_token(token).expires_at
    authorize = handler("authorizer")
    # When the authorizer admits a WebSocket connect and an HTTP request with it
    ws = authorize(
        {"type": "REQUEST", "methodArn": "arn:ws/$connect", "queryStringParameters": {"token": token}},
        LambdaContext("authorizer", 256, 10),
        verifier=ISSUER.verifier,
    )
    http = authorize(
        {"version": "2.0", "headers": {"authorization": f"Bearer {token}"}},
        LambdaContext("authorizer", 256, 10),
        verifier=ISSUER.verifier,
    )
    # Then both contexts say until when (as strings: API Gateway's contexts are flat string maps)
    assert ws["context"][EXPIRES_AT] == http["context"][EXPIRES_AT] == str(expiry)
    assert Caller.from_context(ws["context"]) == PLAYER


def connect_event(context: dict[str, str]) -> dict[str, Any]:
    event = load_event("ws_message")
    event["requestContext"] |= {"routeKey": "$connect", "eventType": "CONNECT", "authorizer": context}
    return event


def test_connect_records_the_token_expiry_with_the_connection() -> None:
    store = FakeConnections()
    context = {**PLAYER.as_context(), EXPIRES_AT: "1900000600"}
    result = handler("ws-connect")(
        connect_event(context),
        LambdaContext("ws-connect", 256, 10),
        store=store,
        clock=at(1_900_000_000),
        settings=SettingsCache(FakeSettingsStore()),
    )
    assert result == {"statusCode": 200}
    connection = store.items[CONNECTION]
    assert (connection.expires_at, connection.connected_at, connection.caller) == (
        1_900_000_600,
        1_900_000_000,
        PLAYER,
    )


@pytest.mark.parametrize("expires_at", [None, "soon", "1900000000"])
def test_connect_without_a_live_token_expiry_is_refused(expires_at: str | None) -> None:
    store = FakeConnections()
    context = PLAYER.as_context() | ({} if expires_at is None else {EXPIRES_AT: expires_at})
    result = handler("ws-connect")(
        connect_event(context), LambdaContext("ws-connect", 256, 10), store=store, clock=at(1_900_000_000)
    )
    assert result == {"statusCode": 401}
    assert store.items == {}


def test_require_connection_checks_the_expiry_against_the_clock() -> None:
    store = FakeConnections()
    store.put(Connection(connection_id="c", caller=PLAYER, connected_at=100, expires_at=200))
    assert require_connection(store, "c", at(199.999)).caller == PLAYER
    with pytest.raises(ConnectionExpired, match="reconnect with a fresh token"):
        require_connection(store, "c", at(200))


@pytest.fixture
def edge() -> WsEdge:
    """Mira's world, and the player connected with a token that expires at 1,900,000,600."""
    return WsEdge(caller=PLAYER, expires_at=1_900_000_600)


def with_clock(edge: WsEdge, clock: Clock) -> WsEdge:
    edge.turn.clock = clock
    edge.session_deps.clock = clock
    return edge


FRAMES = {
    "npc.say": {"action": "npc.say", "request_id": "r-1", "npc_id": "mira", "text": "Any rooms?"},
    "session.history": {"action": "session.history", "request_id": "r-1", "session_id": "ses_x"},
    "session.join": {"action": "session.join", "request_id": "r-1", "session_id": "ses_x"},
}


@pytest.mark.parametrize("action", FRAMES)
def test_a_frame_after_the_token_expired_is_refused_and_the_connection_closed(
    edge: WsEdge, action: str
) -> None:
    # Given the token expired a second ago (it worked a minute before: see the next test)
    with_clock(edge, at(1_900_000_601))
    # When the client sends a frame on its open connection
    answer = edge.send(json.dumps(FRAMES[action]))
    # Then it is told to reconnect with a fresh token, the connection is closed, and nothing ran
    assert (answer["type"], answer["error"]["code"]) == ("error", "unauthorized")
    assert "reconnect with a fresh token" in answer["error"]["message"]
    assert answer["error"]["details"] == {"reconnect": True}
    assert answer["request_id"] == "r-1"
    assert edge.pusher.closed == [CONNECTION]
    assert edge.endpoint.calls == []


def test_the_same_frame_before_expiry_is_served(edge: WsEdge) -> None:
    with_clock(edge, at(1_900_000_540))
    answer = edge.send(json.dumps(FRAMES["npc.say"]))
    assert answer["type"] == "npc.reply", answer
    assert edge.pusher.closed == []


def test_an_http_request_with_an_expired_token_is_unauthorized_in_the_envelope() -> None:
    # API Gateway caches the authorizer's answer for minutes: the handler checks the expiry itself
    edge = HttpEdge()
    reply = edge.call("GET", f"/sessions/{edge.session.session_id}", expires_at=1_000_000_000)
    assert (reply.status, reply.body["error"]["code"]) == (401, "unauthorized")
    assert "expired" in reply.body["error"]["message"]
    assert edge.call("GET", f"/sessions/{edge.session.session_id}", expires_at=TOKEN_EXPIRES_AT).status == 200
