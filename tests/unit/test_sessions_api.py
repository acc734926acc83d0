"""The sessions HTTP handler over fakes: routes, status codes, If-Match, bad input, all in the envelope."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.platform.clients import ClientPolicy
from aicore.sessions.models import Participant, ParticipantKind, SessionHead
from aicore.sessions.service import SessionService
from aicore.topology import TOPOLOGY
from tests.events import load_event
from tests.fakes import FakeColdTier, FakeFlows, FakePublisher, FakeSessions

PLAYER = Participant(id="p1", kind=ParticipantKind.PLAYER)
NPC = Participant(id="mira", kind=ParticipantKind.NPC)
STUDIO = {"subject": "tools", "world_id": "demo", "roles": "studio"}


@pytest.fixture
def service() -> SessionService:
    sessions = FakeSessions()
    return SessionService(sessions, FakeColdTier(sessions), FakePublisher(), FakeFlows())


@pytest.fixture
def session(service: SessionService) -> SessionHead:
    assert isinstance(service.store, FakeSessions)
    return service.store.create(SessionHead(world_id="demo", participants=[PLAYER, NPC]))


def _call(
    service: SessionService,
    method: str,
    route: str,
    path: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: str = "",
    identity: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    event = load_event("http_request")
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {route}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["rawQueryString"] = query
    if query:
        event["queryStringParameters"] = dict(p.split("=", 1) for p in query.split("&"))
    if identity is not None:
        event["requestContext"]["authorizer"]["lambda"] = identity
    event["headers"] |= headers or {}
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    handler = Lambdas().module(TOPOLOGY.function("sessions-api")).handler
    answer = handler(event, LambdaContext("sessions-api", 512, 30), service=service, clients=ClientPolicy)
    return answer["statusCode"], json.loads(answer["body"])


def test_create_answers_201_with_the_head(service: SessionService) -> None:
    status, body = _call(
        service,
        "POST",
        "/sessions",
        "/sessions",
        body={"participants": [PLAYER.model_dump(), NPC.model_dump()]},
    )
    assert status == 201, body
    assert body["ok"]
    assert body["operation"] == "sessions.create"
    assert body["data"]["version"] == 1
    assert body["data"]["world_id"] == "demo"


def test_patch_without_if_match_is_428(service: SessionService, session: SessionHead) -> None:
    path = f"/sessions/{session.session_id}"
    status, body = _call(
        service, "PATCH", "/sessions/{id}", path, body={"metadata": {"a": 1}}, identity=STUDIO
    )
    assert status == 428
    assert body["error"]["code"] == "precondition_required"


def test_stale_patch_is_409_with_the_current_version(service: SessionService, session: SessionHead) -> None:
    path = f"/sessions/{session.session_id}"
    status, body = _call(
        service,
        "PATCH",
        "/sessions/{id}",
        path,
        body={"metadata": {"a": 1}},
        headers={"if-match": '"1"'},
        identity=STUDIO,
    )
    assert (status, body["data"]["version"]) == (200, 2)
    status, body = _call(
        service,
        "PATCH",
        "/sessions/{id}",
        path,
        body={"metadata": {"a": 2}},
        headers={"if-match": 'W/"1"'},
        identity=STUDIO,
    )
    assert status == 409
    assert body["error"]["code"] == "conflict"
    assert body["error"]["details"]["current_version"] == 2


@pytest.mark.parametrize(
    ("headers", "body", "code"),
    [
        ({"if-match": "one"}, {"metadata": {}}, "invalid_request"),
        ({"if-match": "1"}, "{not json", "invalid_json"),
        ({"if-match": "1"}, {"meta": {}}, "invalid_request"),
    ],
)
def test_bad_patches_are_400(
    service: SessionService, session: SessionHead, headers: dict[str, str], body: Any, code: str
) -> None:
    path = f"/sessions/{session.session_id}"
    status, answer = _call(
        service, "PATCH", "/sessions/{id}", path, body=body, headers=headers, identity=STUDIO
    )
    assert status == 400, answer
    assert answer["error"]["code"] == code


def test_append_then_page(service: SessionService, session: SessionHead) -> None:
    path = f"/sessions/{session.session_id}/messages"
    lines = {"messages": [{"text": f"line {i}"} for i in range(1, 6)]}
    status, body = _call(service, "POST", "/sessions/{id}/messages", path, body=lines)
    assert status == 201, body
    assert [m["seq"] for m in body["data"]["messages"]] == [1, 2, 3, 4, 5]
    status, body = _call(service, "GET", "/sessions/{id}/messages", path, query="before=5&limit=2")
    assert status == 200
    assert [m["text"] for m in body["data"]["messages"]] == ["line 3", "line 4"]
    assert body["data"]["next_before"] == 3


@pytest.mark.parametrize("query", ["limit=0", "limit=500", "limit=ten", "before=0", "before=x"])
def test_bad_paging_is_400(service: SessionService, session: SessionHead, query: str) -> None:
    path = f"/sessions/{session.session_id}/messages"
    status, body = _call(service, "GET", "/sessions/{id}/messages", path, query=query)
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request"


def test_participants_join_and_leave(service: SessionService, session: SessionHead) -> None:
    base = f"/sessions/{session.session_id}/participants"
    status, body = _call(
        service, "POST", "/sessions/{id}/participants", base, body={"id": "guard", "kind": "npc"}
    )
    assert status == 200, body
    assert {p["id"] for p in body["data"]["participants"]} == {"p1", "mira", "guard"}
    status, body = _call(
        service,
        "DELETE",
        "/sessions/{id}/participants/{participant_id}",
        f"{base}/p1",
        headers={"if-match": "2"},
    )
    assert status == 200, body
    assert {p["id"] for p in body["data"]["participants"]} == {"mira", "guard"}


def test_suspend_is_202_for_studio_and_403_for_a_player(
    service: SessionService, session: SessionHead
) -> None:
    path = f"/sessions/{session.session_id}/suspend"
    status, body = _call(service, "POST", "/sessions/{id}/suspend", path)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = _call(service, "POST", "/sessions/{id}/suspend", path, identity=STUDIO)
    assert status == 202, body
    assert body["data"]["archiving"]


def test_unknown_session_is_404(service: SessionService) -> None:
    status, body = _call(service, "GET", "/sessions/{id}", "/sessions/ses_missing")
    assert (status, body["error"]["code"]) == (404, "not_found")
