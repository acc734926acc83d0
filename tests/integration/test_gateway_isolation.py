"""One client's flood does not keep other players out of the local gateway.

In the cloud every invocation has its own sandbox; locally each function has its own pool and
a connection has a few frames in handlers at once (more wait in its own queue, beyond that API
Gateway's "Too Many Requests"). The handlers here are the test's own: `hold` blocks until the
test lets it go, like a long NPC turn.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from aicore.local.gateway import Concurrency, Gateway, GatewayThread
from aicore.local.lambdas import Lambdas
from aicore.topology import EventBus, Function, HttpRoute, Topology
from tests.waiting import eventually

BOUND_S = 30.0  # a generous deadline: starved, the connect below would wait for the whole flood
CONCURRENCY = Concurrency(per_function=8, per_connection=4, per_connection_queue=16)
FLOOD = 200

HANDLERS = """
import threading

import boto3

RELEASE = threading.Event()
RUNNING = []


def push(event, data):
    context = event["requestContext"]
    endpoint = f"http://{context['domainName']}/{context['stage']}"
    client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
    client.post_to_connection(ConnectionId=context["connectionId"], Data=data)


def authorize(event, context):
    if event.get("version") == "2.0":  # the HTTP API's simple answer
        return {"isAuthorized": True}
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
    return {"principalId": "p", "policyDocument": {"Version": "2012-10-17", "Statement": [statement]}}


def ok(event, context):
    return {"statusCode": 200}


def hold(event, context):
    RUNNING.append(event["requestContext"]["connectionId"])
    RELEASE.wait(120)
    return {"statusCode": 200}


def echo(event, context):
    push(event, event["body"].encode())
    return {"statusCode": 200}


def http(event, context):
    return {"statusCode": 200, "body": "served"}
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
        fn("connect", "ok", websocket_routes=("$connect",)),
        fn("disconnect", "ok", websocket_routes=("$disconnect",)),
        fn("turn", "hold", websocket_routes=("turn",)),
        fn("echo", "echo", websocket_routes=("echo",)),
        fn("http", "http", http_routes=(HttpRoute("GET", "/things"),)),
    ),
)


class Flooded:
    def __init__(self, runner: GatewayThread, lambdas: Lambdas) -> None:
        self.gateway = runner.gateway
        self.handlers = lambdas.module(TOPOLOGY.function("turn"))

    def ws(self) -> ClientConnection:
        return connect(self.gateway.ws_url + "?token=allow", open_timeout=BOUND_S)

    def running(self, connection_id: str | None = None) -> int:
        return sum(connection_id in (None, c) for c in self.handlers.RUNNING)


@pytest.fixture
def gateway(tmp_path: Path, fake_aws_credentials: None) -> Iterator[Flooded]:
    (tmp_path / "fns").mkdir()
    (tmp_path / "fns" / "handlers.py").write_text(HANDLERS)
    lambdas = Lambdas(TOPOLOGY, root=tmp_path)
    runner = GatewayThread(Gateway(TOPOLOGY, lambdas, port=0, concurrency=CONCURRENCY))
    runner.start()
    flooded = Flooded(runner, lambdas)
    yield flooded
    flooded.handlers.RELEASE.set()
    runner.stop()


def test_a_flood_from_one_connection_leaves_room_for_everyone_else(gateway: Flooded) -> None:
    with gateway.ws() as flooder:
        # Given one client that sends 200 long turns at once
        for i in range(FLOOD):
            flooder.send(json.dumps({"action": "turn", "n": i}))
        eventually(
            lambda: gateway.running() == CONCURRENCY.per_connection,
            timeout_s=BOUND_S,
            what="the connection's handlers running",
        )

        # When another player connects (authorizer and $connect), talks and reads over HTTP
        with gateway.ws() as player:
            player.send(json.dumps({"action": "echo", "text": "hello"}))
            echoed = json.loads(player.recv(timeout=BOUND_S))
            player.send(json.dumps({"action": "turn"}))  # the same busy function, own slots
            eventually(
                lambda: gateway.running() == CONCURRENCY.per_connection + 1,
                timeout_s=BOUND_S,
                what="one more handler running",
            )
        request = urllib.request.Request(gateway.gateway.url + "/things", headers={"Authorization": "allow"})
        with urllib.request.urlopen(request, timeout=BOUND_S) as response:
            served = response.read()

        # Then each is answered: the flood holds only its own connection's slots
        assert echoed == {"action": "echo", "text": "hello"}
        assert served == b"served"

        # ... and what the flooder sent beyond its queue got API Gateway's throttling answer
        throttled = [json.loads(flooder.recv(timeout=BOUND_S)) for _ in range(FLOOD - 4 - 16)]
        assert {frame["message"] for frame in throttled} == {"Too Many Requests"}
        assert gateway.running() == CONCURRENCY.per_connection + 1  # nothing more started

    # When the flooder leaves, its queued frames are dropped, not run for nobody
    gateway.handlers.RELEASE.set()
    with gateway.ws() as again:
        again.send(json.dumps({"action": "echo", "text": "still here"}))
        assert json.loads(again.recv(timeout=BOUND_S))["text"] == "still here"
    assert gateway.running() == CONCURRENCY.per_connection + 1
