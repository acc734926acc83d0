"""Client versions through `aicore local` and real WebSocket clients: an admin sets the policy
over HTTP; a blocked and a too old client are refused at connect (426), an outdated one is
warned, a current one talks; `GET /capabilities` (no token) names the minimum."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from websockets.exceptions import InvalidStatus

from aicore.auth import Role
from aicore.local.runtime import local_token
from tests.clients import exchange, http_json
from tests.e2e.local_process import LocalProcess

pytestmark = pytest.mark.model

POLICY = {"platforms": {"unity": {"minimum": "1.2.0", "recommended": "1.5.0", "blocked": ["1.3.1"]}}}
SAY = json.dumps({"action": "npc.say", "request_id": "v-1", "npc_id": "mira", "text": "Hello!"})


@pytest.fixture(scope="module")
def local() -> Iterator[LocalProcess]:
    with LocalProcess() as running:
        admin = local_token("ops", "demo", (Role.ADMIN,))
        status, current = http_json(f"{running.base}/clients/policy", admin)
        assert status == 200, current
        version = str(current["data"]["version"])
        status, body = http_json(
            f"{running.base}/clients/policy", admin, "PUT", POLICY, headers={"If-Match": version}
        )
        assert status == 200, body
        yield running
        running.stop()


@pytest.mark.parametrize("client", ["unity/1.3.1", "unity/1.1.9"])
def test_blocked_and_old_clients_are_refused_at_connect_with_426(local: LocalProcess, client: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        exchange(f"{local.ws()}&client={client}", [])
    assert refused.value.response.status_code == 426


def test_a_client_that_does_not_parse_is_refused_with_400(local: LocalProcess) -> None:
    with pytest.raises(InvalidStatus) as refused:
        exchange(f"{local.ws()}&client=unity/latest", [])
    assert refused.value.response.status_code == 400


def test_a_current_client_connects_and_talks(local: LocalProcess) -> None:
    answers = exchange(f"{local.ws()}&client=unity/1.5.0", [SAY])
    assert answers[-1]["type"] == "npc.reply"
    assert all(a["type"] != "connection.warning" for a in answers)


def test_an_outdated_client_is_warned_once_then_served(local: LocalProcess) -> None:
    again = SAY.replace("v-1", "v-2")
    answers = exchange(f"{local.ws()}&client=unity/1.4.0", [SAY, again])
    warnings = [a for a in answers if a["type"] == "connection.warning"]
    assert [w["data"]["recommended"] for w in warnings] == ["1.5.0"]
    assert [a["type"] for a in answers if a["type"] not in ("npc.token", "connection.warning")][
        -1
    ] == "npc.reply"


def test_capabilities_need_no_token_and_name_the_minimum(local: LocalProcess) -> None:
    status, body = http_json(f"{local.base}/capabilities?world=demo")
    assert status == 200
    data = body["data"]
    assert data["clients"]["unity"] == {"minimum": "1.2.0", "recommended": "1.5.0"}
    assert "npc.say" in data["client_frames"]
    assert "connection.warning" in data["server_frames"]
    assert data["world"]["world_id"] == "demo"


@pytest.mark.parametrize("path", ["/worlds/demo/npcs", "/worlds/demo/state", "/worlds/demo/lore/documents"])
def test_http_apis_refuse_an_old_client_with_426_and_serve_a_current_one(
    local: LocalProcess, path: str
) -> None:
    # The world, worlds and lore APIs read the policy from the settings table, as deployed
    studio = local_token("tools", "demo", (Role.STUDIO,))
    old, body = http_json(f"{local.base}{path}", studio, headers={"X-Client-Version": "unity/1.1.9"})
    current, _ = http_json(f"{local.base}{path}", studio, headers={"X-Client-Version": "unity/1.5.0"})
    assert (old, body["error"]["details"]["minimum"]) == (426, "1.2.0")
    assert current == 200
