"""The local gateway against real clients (websockets, urllib, boto3) over loopback.

Every event the gateway hands a handler is parsed with Powertools' models of API Gateway's
events: that is the proof the local shapes are the cloud's. The topology here is the test's own,
with handler modules written into a temporary folder.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import boto3
import pytest
from aiohttp import web
from aws_lambda_powertools.utilities.parser.models import (
    ApiGatewayAuthorizerRequestV2,
    APIGatewayProxyEventV2Model,
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketConnectEventRequestContext,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from aicore.local.gateway import Gateway, GatewayThread
from aicore.local.lambdas import Lambdas
from aicore.topology import EventBus, Function, HttpRoute, Topology
from tests.waiting import eventually

REGION = "us-east-1"
GATE = "gateway_test_gate"
CONNECTION_ID = re.compile(r"^[A-Za-z0-9]{15}=$")

HANDLERS = """
import base64
import json

import boto3

from gateway_test_gate import ECHOED  # shared by every function's copy of this module (see the fixture)

EVENTS = []


def push(event, data):
    context = event["requestContext"]
    endpoint = f"http://{context['domainName']}/{context['stage']}"
    client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
    client.post_to_connection(ConnectionId=context["connectionId"], Data=data)


def authorize(event, context):
    EVENTS.append(event)
    http_api = event.get("version") == "2.0"
    if http_api:
        token = event["identitySource"][0].removeprefix("Bearer ")
    else:
        token = event["queryStringParameters"]["token"]
    if token == "boom":
        raise Exception("Unauthorized")
    if http_api:
        return {"isAuthorized": token == "allow", "context": {"player_id": "player-1"}}
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow" if token == "allow" else "Deny",
                 "Resource": event["methodArn"]}
    return {"principalId": "player-1", "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
            "context": {"world_id": "world-1"}}


def connect(event, context):
    EVENTS.append(event)
    answer = {"statusCode": int(event["queryStringParameters"].get("status", "200"))}
    offered = {k.lower(): v for k, v in event["headers"].items()}.get("sec-websocket-protocol")
    if offered:
        answer["headers"] = {"Sec-WebSocket-Protocol": offered.split(",")[0].strip()}
    return answer


def record(event, context):
    EVENTS.append(event)
    return {"statusCode": 200}


def echo(event, context):
    EVENTS.append(event)
    push(event, event["body"].encode())
    ECHOED.set()
    return {"statusCode": 200}


def slow(event, context):
    EVENTS.append(event)
    ECHOED.wait(timeout=30)  # the slow frame ends after the echo: frames handled in turn would wait in vain
    push(event, b"slow done")
    return {"statusCode": 200}


def crash(event, context):
    EVENTS.append(event)
    raise RuntimeError("the handler fell over")


def http(event, context):
    EVENTS.append(event)
    path = event["rawPath"]
    if path == "/crash":
        raise RuntimeError("the handler fell over")
    if path == "/plain":
        return {"hello": "world"}
    if path == "/bytes":
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(bytes([0, 255])).decode(), "isBase64Encoded": True}
    return {"statusCode": 201, "headers": {"content-type": "application/json", "x-route": event["routeKey"]},
            "cookies": ["a=1", "b=2; Path=/"], "body": json.dumps({"ok": True})}
"""


def fn(name: str, handler: str, **triggers: Any) -> Function:
    return Function(name=name, description=name, code="fns", handler=f"handlers.{handler}", **triggers)


TOPOLOGY = Topology(
    tables=(),
    buckets=(),
    bus=EventBus(),
    model_tiers=(),
    authorizer=fn("authorizer", "authorize"),
    functions=(
        fn("connect", "connect", websocket_routes=("$connect",)),
        fn("disconnect", "record", websocket_routes=("$disconnect",)),
        fn("default", "record", websocket_routes=("$default",)),
        fn("echo", "echo", websocket_routes=("echo",)),
        fn("slow", "slow", websocket_routes=("slow",)),
        fn("crash", "crash", websocket_routes=("crash",)),
        fn(
            "http",
            "http",
            http_routes=(
                HttpRoute("GET", "/items/{id}", authorized=False),
                HttpRoute("GET", "/files/{proxy+}", authorized=False),
                HttpRoute("POST", "/items"),
                HttpRoute("GET", "/crash", authorized=False),
                HttpRoute("GET", "/plain", authorized=False),
                HttpRoute("GET", "/bytes", authorized=False),
                HttpRoute("POST", "/upload", authorized=False),
            ),
        ),
    ),
)


class WebSocketAuthorizerEvent(BaseModel):
    """The REQUEST authorizer event of a WebSocket API (Powertools has the REST API's only)."""

    type: Literal["REQUEST"]
    method_arn: str = Field(alias="methodArn")
    headers: dict[str, str]
    multi_value_headers: dict[str, list[str]] = Field(alias="multiValueHeaders")
    query_string_parameters: dict[str, str] = Field(alias="queryStringParameters")
    request_context: APIGatewayWebSocketConnectEventRequestContext = Field(alias="requestContext")


# --- fixtures and helpers ----------------------------------------------------------------------


@dataclass
class Backend:
    gateway: Gateway
    lambdas: Lambdas

    def events(self, name: str) -> list[dict[str, Any]]:
        recorded: list[dict[str, Any]] = self.lambdas.module(TOPOLOGY.function(name)).EVENTS
        return recorded

    def wait_for_events(self, name: str, count: int = 1) -> list[dict[str, Any]]:
        def recorded() -> list[dict[str, Any]] | None:
            events = self.events(name)
            return events if len(events) >= count else None

        return eventually(recorded, timeout_s=30, what=f"{count} {name} event(s)")

    def ws(self, token: str | None = "allow", **query: str) -> ClientConnection:
        parameters = {"token": token, **query} if token is not None else query
        url = self.gateway.ws_url + "?" + "&".join(f"{k}={v}" for k, v in parameters.items())
        return connect(url, additional_headers={"x-correlation-id": "corr-1"}, open_timeout=5)

    def ws_offering(self, subprotocol: str) -> ClientConnection:
        url = self.gateway.ws_url + "?token=allow"
        return connect(url, open_timeout=5, subprotocols=[Subprotocol(subprotocol)])

    def connection_id(self) -> str:
        return str(self.wait_for_events("connect")[-1]["requestContext"]["connectionId"])

    def management_api(self, stage: str = "") -> Any:
        return boto3.client(
            "apigatewaymanagementapi", endpoint_url=self.gateway.url + stage, region_name=REGION
        )


@pytest.fixture
def lambdas(tmp_path: Path, fake_aws_credentials: None) -> Iterator[Lambdas]:
    """The test's handlers, written into a temporary folder."""
    (tmp_path / "fns").mkdir()
    (tmp_path / "fns" / "handlers.py").write_text(HANDLERS)
    # Each function loads its own copy of the handlers module: what they share lives in this one
    gate = ModuleType(GATE)
    gate.ECHOED = threading.Event()  # type: ignore[attr-defined]
    sys.modules[GATE] = gate
    yield Lambdas(TOPOLOGY, root=tmp_path)
    del sys.modules[GATE]


@pytest.fixture
def backend(lambdas: Lambdas) -> Iterator[Backend]:
    runner = GatewayThread(Gateway(TOPOLOGY, lambdas, port=0, extra_routes=[web.get("/", console_page)]))
    runner.start()
    yield Backend(runner.gateway, lambdas)
    runner.stop()


async def console_page(_: web.Request) -> web.Response:
    return web.Response(text="<h1>console</h1>", content_type="text/html")


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None) -> Reply:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())


def refusal_status(backend: Backend, token: str | None, **query: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        backend.ws(token, **query)
    return refused.value.response.status_code


# --- $connect ----------------------------------------------------------------------------------


def test_allowed_connect_runs_authorizer_then_connect_with_its_context(backend: Backend) -> None:
    with backend.ws("allow"):
        connect_event = backend.wait_for_events("connect")[0]

    authorizer_event = WebSocketAuthorizerEvent.model_validate(backend.events("authorizer")[0])
    assert authorizer_event.query_string_parameters == {"token": "allow"}
    assert authorizer_event.method_arn.endswith("/local/$connect")
    connect = APIGatewayWebSocketConnectEventModel.model_validate(connect_event)
    assert CONNECTION_ID.match(connect.request_context.connection_id)
    assert connect.headers["x-correlation-id"] == "corr-1"
    authorizer = connect_event["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "player-1"
    assert authorizer["world_id"] == "world-1"


def test_denied_connect_is_refused_with_403(backend: Backend) -> None:
    assert refusal_status(backend, "deny") == 403
    assert backend.events("connect") == []


def test_connect_without_token_is_refused_with_401_without_asking_the_authorizer(backend: Backend) -> None:
    assert refusal_status(backend, None) == 401
    assert backend.events("authorizer") == []


def test_authorizer_raising_unauthorized_refuses_with_401(backend: Backend) -> None:
    assert refusal_status(backend, "boom") == 401
    assert backend.events("connect") == []


def test_connect_handler_answering_non_2xx_refuses_with_its_status(backend: Backend) -> None:
    assert refusal_status(backend, "allow", status="409") == 409


# --- frames ------------------------------------------------------------------------------------


def test_frame_is_routed_by_action_with_a_message_event(backend: Backend) -> None:
    frame = json.dumps({"action": "echo", "text": "hello"})
    with backend.ws() as ws:
        ws.send(frame)
        # The echo handler pushes the body back through @connections with boto3
        assert ws.recv(timeout=5) == frame

    event = backend.events("echo")[0]
    message = APIGatewayWebSocketMessageEventModel.model_validate(event)
    assert message.request_context.route_key == "echo"
    assert message.body == frame
    assert message.is_base64_encoded is False
    assert (
        message.request_context.connection_id
        == backend.events("connect")[0]["requestContext"]["connectionId"]
    )
    assert event["requestContext"]["authorizer"]["principalId"] == "player-1"


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"no": "action"}',
        '{"action": 5}',
        '{"action": "nobody.handles"}',
        '{"action": "$connect"}',
        "[" * 1000 + "]" * 1000,  # once a RecursionError in route selection: the connection dropped
        '{"action": "echo", "x": ' + "[" * 1000 + "]" * 1000 + "}",  # too deep to evaluate the action
    ],
)
def test_frames_naming_no_declared_route_go_to_default(backend: Backend, frame: str) -> None:
    with backend.ws() as ws:
        ws.send(frame)
        event = backend.wait_for_events("default")[0]
        # And the connection keeps serving
        ws.send('{"action": "echo"}')
        assert ws.recv(timeout=5) == '{"action": "echo"}'

    message = APIGatewayWebSocketMessageEventModel.model_validate(event)
    assert message.request_context.route_key == "$default"
    assert message.body == frame


def test_a_binary_frame_from_a_client_closes_the_connection_with_1003_as_api_gateway_does(
    backend: Backend,
) -> None:
    # API Gateway WebSocket APIs refuse binary frames from clients (1003) and no route sees them
    with backend.ws() as ws:
        ws.send(b"\x00\x01\xfe\xff")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)

    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1003
    disconnect = backend.wait_for_events("disconnect")[0]
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1003
    assert backend.events("default") == []


def test_the_subprotocol_connect_answers_is_the_connections_and_its_pushes_are_binary(
    backend: Backend,
) -> None:
    # Given a client that asks for the protobuf subprotocol, and a $connect that answers it
    with backend.ws_offering("aicore.proto.v1") as ws:
        # Then the handshake names it
        assert ws.subprotocol == "aicore.proto.v1"
        # And what a handler pushes reaches the client as a binary frame, even bytes that are UTF-8
        ws.send('{"action": "echo"}')
        assert ws.recv(timeout=5) == b'{"action": "echo"}'

    assert backend.wait_for_events("connect")[-1]["headers"]["Sec-WebSocket-Protocol"] == "aicore.proto.v1"


def test_a_connection_without_a_subprotocol_gets_text_frames(backend: Backend) -> None:
    with backend.ws() as ws:
        assert ws.subprotocol is None
        ws.send('{"action": "echo"}')
        assert ws.recv(timeout=5) == '{"action": "echo"}'


def test_oversized_frame_is_answered_with_payload_too_large_and_the_connection_keeps_serving(
    backend: Backend,
) -> None:
    with backend.ws() as ws:
        # Given a frame over API Gateway's 128 KB limit
        ws.send(json.dumps({"action": "echo", "text": "x" * 200_000}))
        # Then the client gets an error frame and no handler sees the frame
        error = json.loads(ws.recv(timeout=5))
        # And the connection still serves
        ws.send('{"action": "echo"}')
        assert ws.recv(timeout=5) == '{"action": "echo"}'

    assert error["type"] == "error"
    assert error["request_id"] is None
    assert error["ok"] is False
    assert error["error"]["code"] == "payload_too_large"
    assert len(backend.events("echo")) == 1


def test_handler_raising_does_not_kill_the_connection(backend: Backend) -> None:
    with backend.ws() as ws:
        ws.send('{"action": "crash"}')
        # API Gateway tells the client itself
        failure = json.loads(ws.recv(timeout=5))
        ws.send('{"action": "echo"}')
        assert ws.recv(timeout=5) == '{"action": "echo"}'

    assert failure["message"] == "Internal server error"
    assert CONNECTION_ID.match(failure["connectionId"])


def test_frames_on_one_connection_are_handled_concurrently(backend: Backend) -> None:
    with backend.ws() as ws:
        ws.send('{"action": "slow"}')
        ws.send('{"action": "echo"}')
        replies = [ws.recv(timeout=5), ws.recv(timeout=5)]

    assert replies == ['{"action": "echo"}', "slow done"]


# --- $disconnect -------------------------------------------------------------------------------


def test_disconnect_fires_when_the_client_closes(backend: Backend) -> None:
    with backend.ws() as ws:
        connection_id = backend.connection_id()
        ws.close(code=4000, reason="bye")

    event = backend.wait_for_events("disconnect")[0]
    disconnect = APIGatewayWebSocketDisconnectEventModel.model_validate(event)
    assert disconnect.request_context.connection_id == connection_id
    assert disconnect.request_context.disconnect_status_code == 4000
    assert disconnect.request_context.disconnect_reason == "bye"
    assert event["requestContext"]["authorizer"]["world_id"] == "world-1"


def test_disconnect_fires_when_the_gateway_stops(lambdas: Lambdas) -> None:
    runner = GatewayThread(Gateway(TOPOLOGY, lambdas, port=0))
    runner.start()
    with connect(runner.gateway.ws_url + "?token=allow") as ws:
        runner.stop()
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)

    event = lambdas.module(TOPOLOGY.function("disconnect")).EVENTS[0]
    assert event["requestContext"]["disconnectStatusCode"] == 1001


# --- @connections ------------------------------------------------------------------------------


def test_connections_api_posts_gets_and_deletes_through_boto3(backend: Backend) -> None:
    management = backend.management_api()
    with backend.ws() as ws:
        connection_id = backend.connection_id()

        management.post_to_connection(ConnectionId=connection_id, Data=b'{"type": "push"}')
        assert ws.recv(timeout=5) == '{"type": "push"}'
        management.post_to_connection(ConnectionId=connection_id, Data=b"\xff\x00")
        assert ws.recv(timeout=5) == b"\xff\x00"

        connection = management.get_connection(ConnectionId=connection_id)
        assert connection["Identity"]["SourceIp"] == "127.0.0.1"
        assert "websockets" in connection["Identity"]["UserAgent"]
        assert connection["LastActiveAt"] >= connection["ConnectedAt"]

        management.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)

    disconnect = APIGatewayWebSocketDisconnectEventModel.model_validate(
        backend.wait_for_events("disconnect")[0]
    )
    assert disconnect.request_context.connection_id == connection_id


@pytest.mark.parametrize("stage", ["", "/local"])
@pytest.mark.parametrize(
    ("operation", "arguments"),
    [("post_to_connection", {"Data": b"late"}), ("get_connection", {}), ("delete_connection", {})],
)
def test_closed_connection_is_gone(
    backend: Backend, stage: str, operation: str, arguments: dict[str, Any]
) -> None:
    with backend.ws():
        connection_id = backend.connection_id()
    backend.wait_for_events("disconnect")

    with pytest.raises(ClientError) as gone:
        getattr(backend.management_api(stage), operation)(ConnectionId=connection_id, **arguments)

    assert gone.value.response["Error"]["Code"] == "GoneException"
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


def test_unknown_connection_is_gone(backend: Backend) -> None:
    with pytest.raises(ClientError) as gone:
        backend.management_api().post_to_connection(ConnectionId="NeverExisted00A=", Data=b"hello")

    assert gone.value.response["Error"]["Code"] == "GoneException"


def test_post_over_128_kb_is_payload_too_large(backend: Backend) -> None:
    with backend.ws(), pytest.raises(ClientError) as too_large:
        backend.management_api().post_to_connection(ConnectionId=backend.connection_id(), Data=b"x" * 140_000)

    assert too_large.value.response["Error"]["Code"] == "PayloadTooLargeException"


# --- HTTP API ----------------------------------------------------------------------------------


def test_http_route_gets_a_v2_event_with_path_and_query_parameters(backend: Backend) -> None:
    reply = http(
        "GET",
        f"{backend.gateway.url}/items/a%20b?x=1&x=2&empty=",
        headers={"Cookie": "c1=v1; c2=v2", "X-Correlation-Id": "corr-2"},
    )

    assert reply.status == 201
    assert reply.json() == {"ok": True}
    assert reply.headers["x-route"] == "GET /items/{id}"
    assert reply.headers.get_all("Set-Cookie") == ["a=1", "b=2; Path=/"]
    event = APIGatewayProxyEventV2Model.model_validate(backend.events("http")[0])
    assert event.routeKey == "GET /items/{id}"
    assert event.rawPath == "/items/a%20b"
    assert event.rawQueryString == "x=1&x=2&empty="
    assert event.pathParameters == {"id": "a b"}
    assert event.queryStringParameters == {"x": "1,2", "empty": ""}
    assert event.cookies == ["c1=v1", "c2=v2"]
    assert event.headers["x-correlation-id"] == "corr-2"
    assert event.requestContext.stage == "$default"
    assert event.requestContext.http.method == "GET"
    assert event.body is None


def test_greedy_path_variable_takes_the_rest_of_the_path(backend: Backend) -> None:
    assert http("GET", f"{backend.gateway.url}/files/a/b/c.txt").status == 201

    event = APIGatewayProxyEventV2Model.model_validate(backend.events("http")[0])
    assert event.pathParameters == {"proxy": "a/b/c.txt"}


def test_authorized_route_without_authorization_header_is_401(backend: Backend) -> None:
    reply = http(
        "POST", f"{backend.gateway.url}/items", body=b"{}", headers={"Content-Type": "application/json"}
    )

    assert (reply.status, reply.json()) == (401, {"message": "Unauthorized"})
    assert backend.events("authorizer") == []


@pytest.mark.parametrize(("token", "status"), [("deny", 403), ("boom", 401)])
def test_authorized_route_refused_by_the_authorizer(backend: Backend, token: str, status: int) -> None:
    reply = http(
        "POST", f"{backend.gateway.url}/items", body=b"{}", headers={"Authorization": f"Bearer {token}"}
    )

    assert reply.status == status
    assert reply.json() == {"message": {401: "Unauthorized", 403: "Forbidden"}[status]}
    assert backend.events("http") == []


def test_authorized_route_passes_the_authorizer_context(backend: Backend) -> None:
    reply = http(
        "POST",
        f"{backend.gateway.url}/items",
        body=b'{"name": "sword"}',
        headers={"Authorization": "Bearer allow", "Content-Type": "application/json"},
    )

    assert reply.status == 201
    authorizer_event = ApiGatewayAuthorizerRequestV2.model_validate(backend.events("authorizer")[0])
    assert authorizer_event.identitySource == ["Bearer allow"]
    assert authorizer_event.routeArn.endswith("/$default/POST/items")
    event = APIGatewayProxyEventV2Model.model_validate(backend.events("http")[0])
    assert event.requestContext.authorizer is not None
    assert event.requestContext.authorizer.lambda_value == {"player_id": "player-1"}
    assert (event.body, event.isBase64Encoded) == ('{"name": "sword"}', False)


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/nowhere"), ("DELETE", "/items/1"), ("GET", "/items/1/x")]
)
def test_no_matching_route_is_404(backend: Backend, method: str, path: str) -> None:
    reply = http(method, backend.gateway.url + path)

    assert (reply.status, reply.json()) == (404, {"message": "Not Found"})


def test_handler_raising_is_500(backend: Backend) -> None:
    reply = http("GET", f"{backend.gateway.url}/crash")

    assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"})


def test_answer_without_status_code_is_json_200(backend: Backend) -> None:
    reply = http("GET", f"{backend.gateway.url}/plain")

    assert (reply.status, reply.headers["Content-Type"], reply.json()) == (
        200,
        "application/json",
        {"hello": "world"},
    )


def test_binary_bodies_travel_base64_both_ways(backend: Backend) -> None:
    upload = http(
        "POST", f"{backend.gateway.url}/upload", body=b"\x89PNG\x00", headers={"Content-Type": "image/png"}
    )
    download = http("GET", f"{backend.gateway.url}/bytes")

    assert upload.status == 201
    event = APIGatewayProxyEventV2Model.model_validate(backend.events("http")[0])
    assert event.isBase64Encoded is True
    assert base64.b64decode(str(event.body)) == b"\x89PNG\x00"
    assert download.body == bytes([0, 255])


def test_health_probe_and_extra_routes_are_served_before_the_http_api(backend: Backend) -> None:
    health = http("GET", f"{backend.gateway.url}/_local/health")
    console = http("GET", f"{backend.gateway.url}/")

    assert (health.status, health.json()["status"]) == (200, "ok")
    assert (console.status, console.body) == (200, b"<h1>console</h1>")


def test_a_port_in_use_fails_start_and_leaves_no_thread_behind(backend: Backend) -> None:
    def gateway_threads() -> int:
        return sum(thread.name == "gateway" for thread in threading.enumerate())

    running = gateway_threads()
    second = GatewayThread(Gateway(TOPOLOGY, backend.lambdas, port=backend.gateway.port))

    with pytest.raises(OSError, match="in use"):
        second.start()

    assert gateway_threads() == running
