"""Subprotocol negotiation (`Sec-WebSocket-Protocol`) and the encoding it gives a connection's frames."""

from __future__ import annotations

import re
from typing import Any

import pytest

from aicore.auth import Caller
from aicore.errors import InvalidRequest
from aicore.frames import negotiate
from aicore.identity.keys import SigningKey
from aicore.identity.tokens import TokenIssuer
from aicore.platform.settings import SettingsCache
from aicore.wire import encode_server
from aicore.ws import serve_frame
from aicore_client.protobuf import decode_server
from tests.events import load_event
from tests.fakes import FakeConnections, FakePusher
from tests.handlers import invoke
from tests.platform_fakes import FakeSettingsStore

ISSUER = TokenIssuer(SigningKey.generate(), "aicore", "aicore-game")
PLAYER = Caller(subject="p1", world_id="demo")
CONNECTION = "bZ1wrcG1IAMCJbA="  # the connection id of the ws_* fixtures


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        (None, None),
        ("aicore.proto.v1", "aicore.proto.v1"),
        ("aicore.json.v1", "aicore.json.v1"),
        ("chat.v9, aicore.proto.v1, aicore.json.v1", "aicore.proto.v1"),  # the first we speak
        (" aicore.json.v1 ,aicore.proto.v1", "aicore.json.v1"),
    ],
)
def test_the_first_offered_subprotocol_we_speak_is_chosen(offered: str | None, chosen: str | None) -> None:
    headers = {} if offered is None else {"sec-websocket-protocol": offered}
    assert negotiate(headers) == chosen


def test_offering_only_subprotocols_we_do_not_speak_is_refused() -> None:
    with pytest.raises(InvalidRequest, match=re.escape("aicore.json.v1, aicore.proto.v1")):
        negotiate({"Sec-WebSocket-Protocol": "chat.v9"})


def _connect(offered: str | None, store: FakeConnections) -> dict[str, Any]:
    headers = {} if offered is None else {"Sec-WebSocket-Protocol": offered}
    authorizer_event = load_event("ws_authorizer", queryStringParameters={"token": ISSUER.issue(PLAYER)})
    authorizer_event["headers"] = {**authorizer_event["headers"], **headers}
    context = invoke("authorizer", authorizer_event, verifier=ISSUER.verifier)["context"]
    event = load_event("ws_connect")
    event["headers"] = {**event["headers"], **headers}
    event["requestContext"]["authorizer"] = context
    answer: dict[str, Any] = invoke(
        "ws-connect", event, store=store, settings=SettingsCache(FakeSettingsStore())
    )
    return {"answer": answer, "context": context}


def test_connect_answers_the_binary_subprotocol_and_records_the_encoding() -> None:
    # Given a client that asks for aicore.proto.v1
    store = FakeConnections()
    outcome = _connect("aicore.proto.v1", store)

    # Then $connect answers it (API Gateway puts it in the handshake), the authorizer context that
    # rides on every frame's event carries the encoding, and so does the connection's item
    assert outcome["answer"] == {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "aicore.proto.v1"}}
    assert outcome["context"]["encoding"] == "protobuf"
    connection = store.get(CONNECTION)
    assert connection is not None
    assert connection.encoding == "protobuf"


def test_connect_without_a_subprotocol_speaks_json_and_answers_no_header() -> None:
    store = FakeConnections()
    outcome = _connect(None, store)
    assert outcome["answer"] == {"statusCode": 200}
    assert outcome["context"]["encoding"] == "json"
    connection = store.get(CONNECTION)
    assert connection is not None
    assert connection.encoding == "json"


def test_connect_offering_only_unknown_subprotocols_is_refused_and_stores_nothing() -> None:
    store = FakeConnections()
    assert _connect("chat.v9", store)["answer"] == {"statusCode": 400}
    assert store.items == {}


def test_every_frame_of_a_protobuf_connection_is_sent_in_protobuf() -> None:
    # Given a frame event of a connection that negotiated aicore.proto.v1
    pusher = FakePusher()
    event = load_event("ws_message")
    event["requestContext"]["authorizer"] = {"encoding": "protobuf"}

    # When a route serves it (here: its work fails before it can read the event's caller)
    def work(request: Any) -> Any:
        raise InvalidRequest("Say something.")

    serve_frame(event, pusher, "npc.say", "npc.reply", work)

    # Then the pusher knows the connection speaks protobuf, and the error frame encodes
    assert pusher.encodings == {CONNECTION: "protobuf"}
    [(_, frame)] = pusher.frames
    assert decode_server(encode_server(frame))["error"]["message"] == "Say something."
