"""Client versions: strict parsing (never echoed), the policy's verdicts, `$connect` refusals (426,
400), the warning frame once per connection, the capabilities and the client policy routes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicore.errors import InvalidRequest, UpgradeRequired
from aicore.platform.clients import (
    ClientPolicy,
    ClientVersion,
    OutdatedWarnings,
    PlatformPolicy,
    Verdict,
    admit,
)
from aicore.platform.settings import GLOBAL_SCOPE, GlobalSettings, SettingsCache, StoredSettings
from tests.edge_calls import ADMIN, PLAYER, STUDIO, HttpEdge
from tests.events import load_event
from tests.fakes import FakeConnections, FakePusher
from tests.handlers import invoke
from tests.npc_turns import TOKEN_EXPIRES_AT

POLICY = ClientPolicy(
    platforms={"unity": PlatformPolicy(minimum="1.2.0", recommended="1.5.0", blocked=("1.3.1",))}
)


def _policy_store(policy: ClientPolicy = POLICY) -> Any:
    from tests.platform_fakes import FakeSettingsStore

    store = FakeSettingsStore()
    values = GlobalSettings(clients=policy).model_dump(mode="json")
    store.documents[GLOBAL_SCOPE] = StoredSettings(scope=GLOBAL_SCOPE, version=1, values=values)
    return store


@pytest.mark.parametrize(
    ("raw", "verdict"),
    [
        ("unity/1.5.0", Verdict.CURRENT),
        ("unity/2.0.0", Verdict.CURRENT),
        ("unity/1.4.9", Verdict.OUTDATED),
        ("unreal/0.0.1", Verdict.CURRENT),
    ],
)
def test_current_and_outdated_clients_are_admitted(raw: str, verdict: Verdict) -> None:
    assert admit(POLICY, ClientVersion.parse(raw, "c")).verdict is verdict


@pytest.mark.parametrize("raw", ["unity/1.1.9", "unity/1.3.1", "unity/0.9.0"])
def test_old_and_blocked_clients_must_upgrade_and_are_told_the_minimum(raw: str) -> None:
    with pytest.raises(UpgradeRequired) as refused:
        admit(POLICY, ClientVersion.parse(raw, "c"))
    assert refused.value.details == {"platform": "unity", "minimum": "1.2.0"}
    assert "1.2.0" in refused.value.message


def test_a_client_without_a_version_is_admitted_unless_the_policy_requires_one() -> None:
    assert admit(POLICY, None).verdict is Verdict.CURRENT
    with pytest.raises(UpgradeRequired):
        admit(POLICY.model_copy(update={"require_version": True}), None)


@pytest.mark.parametrize(
    "raw",
    [
        "unity",
        "unity/",
        "/1.2.3",
        "Unity/1.2.3",
        "unity/1.2",
        "unity/01.2.3",
        "unity/1.2.3.4",
        "unity/1.2.3-beta",
        "unity/1.2.3 ",
        "u" * 65 + "/1.2.3",
        "unity/1234567.0.0",
        "ünity/1.2.3",
    ],
)
def test_a_client_string_is_parsed_strictly(raw: str) -> None:
    with pytest.raises(InvalidRequest):
        ClientVersion.parse(raw, "'?client='")


def _refusal(raw: str) -> str | None:
    try:
        ClientVersion.parse(raw, "X-Client-Version")
    except InvalidRequest as refused:
        return refused.message
    return None


@given(st.text(max_size=200))
def test_whatever_is_sent_it_is_never_quoted_back(raw: str) -> None:
    # the refusal is the same words whatever was sent: nothing of it is quoted back
    assert _refusal(raw) in (None, _refusal("?"))


def _connect(client: str | None) -> dict[str, Any]:
    event = load_event("ws_connect")
    event["requestContext"]["authorizer"] = {**PLAYER.as_context(), "expires_at": str(TOKEN_EXPIRES_AT)}
    event["queryStringParameters"] = {"token": "t"} | ({} if client is None else {"client": client})
    return event


@pytest.mark.parametrize(
    ("client", "status"),
    [
        ("unity/1.3.1", 426),
        ("unity/1.1.0", 426),
        ("unity/latest", 400),
        ("unity/1.4.0", 200),
        ("unity/1.5.0", 200),
        (None, 200),
    ],
)
def test_connect_refuses_blocked_old_and_unreadable_clients(client: str | None, status: int) -> None:
    store = FakeConnections()
    answer = invoke("ws-connect", _connect(client), store=store, settings=SettingsCache(_policy_store()))
    assert answer == {"statusCode": status}
    assert (store.items != {}) is (status == 200)


def test_an_outdated_client_is_warned_once_per_connection() -> None:
    warnings, pusher = OutdatedWarnings(), FakePusher()
    for _ in range(3):
        warnings.warn(pusher, "c1", {"client": "unity/1.4.0"}, POLICY)
    warnings.warn(pusher, "c2", {"client": "unity/1.5.0"}, POLICY)
    warnings.warn(pusher, "c3", {}, POLICY)
    [(connection, frame)] = pusher.frames
    assert connection == "c1"
    assert frame["type"] == "connection.warning"
    assert frame["data"]["recommended"] == "1.5.0"
    assert frame["data"]["code"] == "client_outdated"


def test_the_authorizer_passes_a_readable_client_on_to_every_frame() -> None:
    from aicore.identity.keys import SigningKey
    from aicore.identity.tokens import TokenIssuer

    issuer = TokenIssuer(SigningKey.generate(), "aicore", "aicore-game")
    for client, expected in (("unity/1.4.0", "unity/1.4.0"), ("bad client", None)):
        event = load_event("ws_authorizer")
        event["queryStringParameters"] = {"token": issuer.issue(PLAYER), "client": client}
        context = invoke("authorizer", event, verifier=issuer.verifier)["context"]
        assert context.get("client") == expected


def test_capabilities_need_no_token_and_publish_frames_and_floors() -> None:
    edge = HttpEdge()
    edge.settings.documents |= _policy_store().documents
    reply = edge.call("GET", "/capabilities?world=demo")
    assert reply.status == 200
    data = reply.body["data"]
    assert data["clients"] == {"unity": {"minimum": "1.2.0", "recommended": "1.5.0"}}
    assert "1.3.1" not in json.dumps(data)  # blocked versions are not advertised
    assert {"npc.say", "world.subscribe"} <= set(data["client_frames"])
    assert {"npc.reply", "connection.warning", "error"} <= set(data["server_frames"])
    assert data["world"]["performance_mode"] == "balanced"
    assert edge.call("GET", "/capabilities?world=../../x").status == 404


def test_admins_change_the_client_policy_with_if_match_studios_read_it() -> None:
    edge = HttpEdge()
    body = json.dumps(POLICY.model_dump(mode="json")).encode()
    assert (
        edge.call("PUT", "/clients/policy", body=body, headers={"if-match": "1"}, caller=STUDIO).status == 403
    )
    stale = edge.call("PUT", "/clients/policy", body=body, headers={"if-match": "0"}, caller=ADMIN)
    written = edge.call("PUT", "/clients/policy", body=body, headers={"if-match": "1"}, caller=ADMIN)
    read = edge.call("GET", "/clients/policy", caller=STUDIO)

    assert (stale.status, stale.body["error"]["details"]) == (409, {"current_version": 1})
    assert (written.status, written.body["data"]["version"]) == (200, 2)
    assert read.body["data"]["policy"]["platforms"]["unity"]["minimum"] == "1.2.0"
    assert [c.field for c in edge.settings.entries[GLOBAL_SCOPE][-1].changes] == ["clients.platforms.unity"]


def _http(edge: HttpEdge, version: str | None) -> dict[str, Any]:
    from aicore.local.lambdas import LambdaContext, Lambdas

    headers = {} if version is None else {"x-client-version": version}
    function, event = edge.event(
        "GET", f"/sessions/{edge.session.session_id}", headers=headers, caller=PLAYER
    )
    answer: dict[str, Any] = (
        Lambdas()
        .module(function)
        .handler(event, LambdaContext(function.name, 512, 30), **edge.deps(function.name))
    )
    return answer


def test_http_refuses_old_and_blocked_clients_with_426_naming_the_minimum() -> None:
    edge = HttpEdge()
    edge.settings.documents |= _policy_store().documents
    for version in ("unity/1.1.0", "unity/1.3.1"):
        answer = _http(edge, version)
        body = json.loads(answer["body"])
        assert (answer["statusCode"], body["error"]["code"]) == (426, "upgrade_required")
        assert "1.2.0" in body["error"]["message"]
        assert version.split("/")[1] not in answer["body"]  # what was sent is never echoed
    unreadable = _http(edge, "unity/1.2.3; DROP")
    assert (unreadable["statusCode"], "DROP" in unreadable["body"]) == (400, False)


def test_http_warns_an_outdated_client_and_serves_a_current_one() -> None:
    edge = HttpEdge()
    edge.settings.documents |= _policy_store().documents
    outdated, current, unnamed = _http(edge, "unity/1.4.0"), _http(edge, "unity/1.5.0"), _http(edge, None)
    assert [a["statusCode"] for a in (outdated, current, unnamed)] == [200, 200, 200]
    assert "1.5.0" in outdated["headers"]["X-Client-Warning"]
    assert "X-Client-Warning" not in (current.get("headers") or {})
