"""The fault-injection endpoint of the local model server: what it takes, and clear 400s for the rest."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from aicore.llm.wire import ChatRequest
from aicore.local.faults import ADMIN_PATH, FaultPlan, admin_routes
from aicore.local.model_server import ModelServerThread
from tests.clients import http_json

ENDPOINTS = ["aicore-local-gold", "aicore-local-silver"]


class SilentEngine:
    """The fault endpoints never reach the model."""

    def complete(self, request: ChatRequest) -> dict[str, Any]:
        raise AssertionError("not called")

    def stream(self, request: ChatRequest) -> Generator[dict[str, Any], None, None]:
        raise AssertionError("not called")

    def prompt_tokens(self, request: ChatRequest) -> int:
        return 0


@pytest.fixture
def faults_url() -> Iterator[str]:
    plan = FaultPlan()
    with ModelServerThread(
        SilentEngine(), ENDPOINTS, faults=plan, extra_routes=admin_routes(plan, ENDPOINTS)
    ) as url:
        yield url + ADMIN_PATH


def test_a_fault_is_set_listed_and_cleared(faults_url: str) -> None:
    status, body = http_json(
        faults_url, method="POST", body={"endpoint": "aicore-local-gold", "kind": "throttling", "times": 2}
    )
    assert status == 200
    assert body["fault"]["kind"] == "throttling"
    assert http_json(faults_url)[1]["faults"][0]["endpoint"] == "aicore-local-gold"
    assert http_json(faults_url, method="DELETE")[1] == {"faults": []}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"endpoint": "aicore-local-bronze", "kind": "throttling"}, "endpoint: no such endpoint here"),
        ({"endpoint": "aicore-local-gold", "kind": "explode"}, "kind: Input should be"),
        ({"endpoint": "aicore-local-gold", "kind": "stall", "delay_s": -1}, "delay_s"),
        ({"kind": "stall"}, "endpoint: Field required"),
        ({"endpoint": "aicore-local-gold", "kind": "cut", "colour": "red"}, "colour: Extra inputs"),
        ({"endpoint": "aicore-local-gold", "kind": "scripted"}, "reply is required with kind scripted"),
        (
            {"endpoint": "aicore-local-gold", "kind": "cut", "reply": "hi"},
            "reply is required with kind scripted",
        ),
    ],
)
def test_a_bad_fault_is_refused_with_a_clear_400(faults_url: str, body: dict[str, Any], says: str) -> None:
    status, answer = http_json(faults_url, method="POST", body=body)

    assert status == 400
    assert says in answer["message"]
    assert "Kinds: stall, slow, model_error" in answer["message"]
    assert "Endpoints: aicore-local-gold, aicore-local-silver" in answer["message"]
    assert "bronze" not in answer["message"]  # the input is not echoed
    assert http_json(faults_url)[1] == {"faults": []}


def test_a_body_that_is_not_json_is_refused(faults_url: str) -> None:
    request = urllib.request.Request(faults_url, data=b"{nope", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400
    assert "Invalid fault" in json.loads(refused.value.read())["message"]
