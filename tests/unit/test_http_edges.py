"""What clients can send the HTTP API, through the real handlers over fakes, with the events API
Gateway builds: every answer is in the envelope, a 4xx for the caller's mistakes (never a 500),
and nothing the caller sent is quoted back."""

from __future__ import annotations

import io
import json
import logging
import string
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aicore.commerce.signature import signature_header
from aicore.http import MAX_BODY_BYTES
from aicore.inputs import MAX_JSON_DEPTH
from aicore.observability import logger
from aicore.platform.clients import ClientPolicy, PlatformPolicy
from aicore.platform.settings import GLOBAL_SCOPE, GlobalSettings, StoredSettings
from aicore.topology import TOPOLOGY
from tests.edge_calls import ADMIN, STUDIO, HttpEdge, Reply
from tests.identity_fakes import EDGE_PROVIDER
from tests.payments_fakes import SECRET, checkout_completed
from tests.world_fakes import demo_content

MARKUP = "<img src=x onerror=alert(1)>"
ENGINE = {"max_model_len": 4096, "max_batch_size": 32, "quantization": "awq"}
ENVELOPE_KEYS = {"ok", "service", "operation", "correlation_id", "duration_ms", "data", "error"}


@pytest.fixture
def edge() -> HttpEdge:
    return HttpEdge()


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Our log lines as CloudWatch would get them (Powertools' JSON formatter), for this test only."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    underlying = logging.getLogger(logger.name)
    level = underlying.level  # the local runtime of integration tests may have raised it
    underlying.setLevel(logging.INFO)
    underlying.addHandler(handler)
    yield stream
    underlying.removeHandler(handler)
    underlying.setLevel(level)


def assert_refused(reply: Reply, status: int, code: str, *, not_quoting: str = MARKUP) -> None:
    assert set(reply.body) == ENVELOPE_KEYS, reply.body
    assert (reply.status, reply.body["error"]["code"]) == (status, code), reply.body
    assert not_quoting not in json.dumps(reply.body["error"], ensure_ascii=False)


def body_routes(edge: HttpEdge) -> list[tuple[str, str, bytes]]:
    """Every route that reads a JSON body: (method, path, a valid body)."""
    session = edge.session.session_id
    mode = b'{"mode": "fast"}'
    version = json.dumps(
        {
            "version": "v1",
            "model": {
                "hf_model_id": "Qwen/Qwen3-4B-AWQ",
                "revision": "74d4bd2bd4bff9cafc9345221320bffb08b406a3",
            },
            "engine": ENGINE,
        }
    ).encode()
    return [
        ("POST", "/sessions", b'{"participants": [{"id": "p1", "kind": "player"}]}'),
        ("PATCH", f"/sessions/{session}", b'{"metadata": {"a": 1}}'),
        ("POST", f"/sessions/{session}/participants", b'{"id": "guard", "kind": "npc"}'),
        (
            "POST",
            f"/sessions/{session}/messages",
            b'{"messages": [{"text": "hi", "speaker": {"id": "p1", "kind": "player"}}]}',
        ),
        ("PUT", "/worlds/demo/settings", b'{"performance_mode": "fast"}'),
        ("PUT", "/settings", b'{"token_frame_interval_ms": 40}'),
        ("PUT", "/clients/policy", b'{"platforms": {"unity": {"minimum": "1.0.0"}}}'),
        ("PUT", "/worlds/demo/performance", mode),
        ("PUT", "/worlds/demo/players/me/performance", mode),
        ("POST", "/models/gold/versions", version),
        ("POST", "/worlds/demo/lore/documents", b'{"title": "Emberfall", "text": "A mountain town."}'),
        ("POST", "/worlds/demo/content?dry_run=true", demo_content().model_dump_json().encode()),
        ("PUT", "/worlds/demo/clock", b'{"paused": true}'),
        ("PUT", "/worlds/demo/facts/gate", b'{"value": {"open": false}, "region": "emberfall"}'),
        (
            "POST",
            "/worlds/demo/players/p1/objectives",
            b'{"report_id": "r1", "kind": "visit", "target": "emberfall"}',
        ),
        ("POST", "/auth/guest", b'{"device_id": "edge-device-0123456789"}'),
        (
            "POST",
            "/auth/exchange",
            json.dumps({"provider": EDGE_PROVIDER, "token": edge.identity.provider_token}).encode(),
        ),
        ("POST", "/auth/refresh", json.dumps({"refresh_token": edge.identity.refresh_token}).encode()),
        ("POST", "/auth/logout", json.dumps({"refresh_token": edge.identity.refresh_token}).encode()),
        ("POST", "/payments/webhook", json.dumps(checkout_completed("evt_edge", "pi_edge")).encode()),
    ]


def call_body_route(edge: HttpEdge, method: str, path: str, body: bytes, client: str | None = None) -> Reply:
    caller = ADMIN if path.startswith(("/models/", "/settings", "/clients/")) else STUDIO
    headers = {"if-match": "1"} | ({"x-client-version": client} if client else {})
    if path == "/payments/webhook":  # signed as the provider signs, whatever the body
        headers["stripe-signature"] = signature_header(body, SECRET, int(edge.payments.clock().timestamp()))
    return edge.call(method, path, body=body, headers=headers, caller=caller)


def test_every_body_route_of_the_topology_is_covered(edge: HttpEdge) -> None:
    # Given the routes that take a body here (POST routes that act on the path alone take none)
    covered = {edge.routes.resolve(m, p.split("?")[0]).route.route_key for m, p, _ in body_routes(edge)}  # type: ignore[union-attr]
    takes_no_body = {
        "POST /sessions/{id}/suspend",
        "POST /models/{tier}/versions/{version}/deploy",
        "POST /models/{tier}/versions/{version}/import",
        "POST /models/{tier}/rollback",
        "POST /players/me/quests/{quest_id}/accept",
        "POST /players/me/quests/{quest_id}/abandon",
    }
    writes = {r.route_key for r, _ in TOPOLOGY.http_routes if r.method in ("POST", "PUT", "PATCH")}
    assert covered | takes_no_body == writes


def test_valid_bodies_are_accepted_on_every_body_route() -> None:
    for route in range(len(body_routes(HttpEdge()))):
        edge = HttpEdge()
        method, path, body = body_routes(edge)[route]
        reply = call_body_route(edge, method, path, body)
        assert reply.status < 300, (path, reply.body)


@pytest.mark.parametrize(
    ("encode", "problem"),
    [
        (lambda text: text.encode("utf-16"), "UTF-16"),
        (lambda text: b"\xff\xfe" + text.encode("utf-16-le"), "UTF-16"),
        (lambda text: text.encode("utf-32"), "UTF-16"),
        (lambda text: text.replace("}", ', "x": "é"}').encode("latin-1"), "not UTF-8"),
    ],
    ids=["utf-16", "utf-16-le-bom", "utf-32", "latin-1"],
)
def test_a_body_not_in_utf8_is_invalid_json_on_every_body_route(
    edge: HttpEdge, encode: Any, problem: str
) -> None:
    # Each of these answered 500 (Powertools decodes a base64 body as UTF-8 and raised)
    for method, path, body in body_routes(edge):
        reply = call_body_route(edge, method, path, encode(body.decode()))
        assert_refused(reply, 400, "invalid_json")
        assert problem in reply.body["error"]["message"], path


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 20_000])
def test_a_body_nested_too_deep_is_invalid_request_on_every_body_route(edge: HttpEdge, depth: int) -> None:
    deep = b'{"metadata": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"
    for method, path, _ in body_routes(edge):
        reply = call_body_route(edge, method, path, deep)
        assert_refused(reply, 400, "invalid_request")
        assert f"more than {MAX_JSON_DEPTH} levels deep" in reply.body["error"]["message"]


def test_a_body_over_the_limit_is_payload_too_large_in_the_envelope(edge: HttpEdge) -> None:
    session = edge.session.session_id
    text = "x" * MAX_BODY_BYTES
    reply = edge.call(
        "POST", f"/sessions/{session}/messages", body=json.dumps({"messages": [{"text": text}]}).encode()
    )
    assert_refused(reply, 413, "payload_too_large")


@pytest.mark.parametrize(
    "value",
    ["²", "①", "٣", "\uff11", "9" * 5000, "-1", "+1", "1.0", "*", '"1', '1"', "1, 2", "0x1", "W/1x", MARKUP],
)
def test_if_match_takes_only_one_version_in_ascii_digits(edge: HttpEdge, value: str) -> None:
    # '²' and '①' answered 500: str.isdigit() let them through to int()
    path = f"/sessions/{edge.session.session_id}"
    reply = edge.call("PATCH", path, body=b'{"metadata": {}}', headers={"if-match": value}, caller=STUDIO)
    assert_refused(reply, 400, "invalid_request", not_quoting=value)


@pytest.mark.parametrize("value", ["1", '"1"', 'W/"1"', " 1 "])
def test_if_match_as_etags_are_written(edge: HttpEdge, value: str) -> None:
    path = f"/sessions/{edge.session.session_id}"
    reply = edge.call("PATCH", path, body=b'{"metadata": {}}', headers={"if-match": value}, caller=STUDIO)
    assert (reply.status, reply.body["data"]["version"]) == (200, 2)


@pytest.mark.parametrize("name", ["limit", "before"])
@pytest.mark.parametrize("value", ["%C2%B2", "%E2%91%A0", "9" * 5000, "-1", "%2B1", "1e3", "0x1", "%3Cb%3E"])
def test_integer_query_parameters_take_ascii_digits_only(edge: HttpEdge, name: str, value: str) -> None:
    reply = edge.call("GET", f"/sessions/{edge.session.session_id}/messages?{name}={value}")
    assert_refused(reply, 400, "invalid_request", not_quoting="<b>")
    assert reply.body["error"]["message"].startswith(f"'{name}' must be")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/sessions/{bad}"),
        ("GET", "/sessions/{bad}/messages"),
        ("DELETE", "/sessions/{session}/participants/{bad}"),
        ("GET", "/worlds/{bad}/npcs"),
        ("GET", "/worlds/{bad}/performance"),
        ("GET", "/worlds/{bad}/story"),
        ("GET", "/models/{bad}"),
        ("GET", "/models/gold/versions/{bad}"),
    ],
)
@pytest.mark.parametrize("bad", ["%3Cscript%3E", "a%20b", "x" * 3000, "%C3%A9t%C3%A9"])
def test_ids_in_the_path_that_break_the_identifier_rule_name_nothing(
    edge: HttpEdge, method: str, path: str, bad: str
) -> None:
    # A 3,000-character session id reached DynamoDB (key over 2 KB: a 500); markup was quoted back
    reply = edge.call(method, path.format(bad=bad, session=edge.session.session_id), caller=STUDIO)
    assert_refused(reply, 404, "not_found", not_quoting="script")
    assert "x" * 200 not in json.dumps(reply.body)


@pytest.mark.parametrize("offered", ["x" * 8000, MARKUP, "a b", "ünïcode", "line\nbreak", ""])
def test_a_correlation_id_that_is_not_a_plain_id_is_replaced_by_the_request_id(
    edge: HttpEdge, offered: str, log_lines: io.StringIO
) -> None:
    function, event = edge.event(
        "GET", f"/sessions/{edge.session.session_id}", headers={"x-correlation-id": offered}
    )
    reply = edge.invoke(function, event)
    assert reply.body["correlation_id"] == event["requestContext"]["requestId"]
    # And it reaches no log line either
    if offered:
        assert offered not in log_lines.getvalue()


def test_a_plain_correlation_id_follows_the_answer_and_the_log_lines(
    edge: HttpEdge, log_lines: io.StringIO
) -> None:
    reply = edge.call("GET", "/sessions/ses_missing", headers={"x-correlation-id": "game-7f3a:42"})
    assert reply.body["correlation_id"] == "game-7f3a:42"
    logged = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert any(line.get("correlation_id") == "game-7f3a:42" for line in logged)


def test_a_route_the_handler_does_not_serve_answers_in_the_envelope(edge: HttpEdge) -> None:
    # Given an event for a path the function has no route for (a topology and handler out of step)
    function, event = edge.event("GET", f"/sessions/{edge.session.session_id}")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/sessions/{MARKUP}/nowhere"
    # Then the answer is the envelope's 404, without the path
    assert_refused(edge.invoke(function, event), 404, "not_found")


@pytest.mark.parametrize(
    "breaks",
    [
        lambda event: event.pop("requestContext"),
        lambda event: event["requestContext"].pop("http"),
        lambda event: event.update(rawPath=None),
        lambda event: event.update(headers="not a map"),
        lambda event: event["requestContext"].update(authorizer="not a map"),
    ],
)
def test_an_event_the_handler_cannot_read_still_answers_in_the_envelope(edge: HttpEdge, breaks: Any) -> None:
    # Given an event broken before any route runs (these raised: a Lambda error, which pages)
    function, event = edge.event("GET", f"/sessions/{edge.session.session_id}")
    breaks(event)
    # Then the handler answers 500 in the envelope, quoting its correlation id
    reply = edge.invoke(function, event)
    assert_refused(reply, 500, "internal_error")
    assert reply.body["correlation_id"] in reply.body["error"]["message"]


# --- fuzz: anything a client can put in a body, a header or the query --------------------------

HEADER_TEXT = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=60)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(
    route=st.integers(0, 6),
    body=st.binary(max_size=300)
    | st.text(max_size=200).map(str.encode)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=25,
    ).map(lambda value: json.dumps(value).encode()),
    if_match=HEADER_TEXT,
)
def test_no_body_or_if_match_makes_a_body_route_fail_on_our_side(
    edge: HttpEdge, route: int, body: bytes, if_match: str
) -> None:
    method, path, _ = body_routes(edge)[route]
    reply = edge.call(method, path, body=body, headers={"if-match": if_match}, caller=STUDIO)
    assert set(reply.body) == ENVELOPE_KEYS
    assert reply.status < 500, reply.body


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["limit", "before"]), st.text(string.printable, max_size=30), max_size=2
    ),
    correlation=HEADER_TEXT,
)
def test_no_query_or_header_makes_a_read_fail_on_our_side(
    edge: HttpEdge, query: dict[str, str], correlation: str
) -> None:
    from urllib.parse import urlencode

    path = f"/sessions/{edge.session.session_id}/messages?{urlencode(query)}"
    reply = edge.call("GET", path, headers={"x-correlation-id": correlation})
    assert set(reply.body) == ENVELOPE_KEYS
    assert reply.status < 500, reply.body
    for value in query.values():
        if len(value) > 3 and not value.isdigit() and reply.status >= 400:
            assert value not in json.dumps(reply.body["error"])


@FUZZ
@given(segment=st.text(min_size=1, max_size=80).filter(lambda s: "/" not in s))
def test_no_path_id_makes_a_route_fail_on_our_side(edge: HttpEdge, segment: str) -> None:
    from urllib.parse import quote

    for path in (f"/sessions/{quote(segment)}", f"/worlds/{quote(segment)}/npcs"):
        reply = edge.call("GET", path, caller=STUDIO)
        assert set(reply.body) == ENVELOPE_KEYS
        assert reply.status < 500, reply.body


# --- client versions: every route a game client calls admits X-Client-Version --------------------

# Routes that answer whoever asks: what the service is (an old client learns the minimum there),
# the keys that verify tokens, and the payment provider's webhook (no game client calls it).
ANSWERS_ANY_CLIENT = {
    "GET /.well-known/jwks.json",
    "GET /status",
    "GET /capabilities",
    "POST /payments/webhook",
}
PATH_VALUES = {
    "world": "demo",
    "npc": "mira",
    "player": "p1",
    "participant_id": "mira",
    "memory_id": "mem_1",
    "key": "gate",
    "region": "emberfall",
    "tier": "gold",
    "version": "v1",
    "quest_id": "q_1",
}


def one_call_per_route(edge: HttpEdge) -> dict[str, tuple[str, str, bytes]]:
    """Every HTTP route of the topology: (method, path, body): the body routes with valid bodies."""
    calls = {
        edge.routes.resolve(m, p.split("?")[0]).route.route_key: (m, p, b)  # type: ignore[union-attr]
        for m, p, b in body_routes(edge)
    }
    for route, _ in TOPOLOGY.http_routes:
        values = PATH_VALUES | {"id": edge.session.session_id}
        calls.setdefault(route.route_key, (route.method, route.path.format(**values), b""))
    return calls


def call_as_client(route_key: str, client: str | None, policy: ClientPolicy) -> Reply:
    edge = HttpEdge()  # a fresh one per call: the routes that write see the same state each time
    values = GlobalSettings(clients=policy).model_dump(mode="json")
    edge.settings.documents[GLOBAL_SCOPE] = StoredSettings(scope=GLOBAL_SCOPE, version=1, values=values)
    method, path, body = one_call_per_route(edge)[route_key]
    return call_body_route(edge, method, path, body, client)


UNITY_FROM_1_2 = ClientPolicy(
    platforms={"unity": PlatformPolicy(minimum="1.2.0", recommended="1.5.0", blocked=("1.3.1",))}
)


@pytest.mark.parametrize("route_key", sorted(r.route_key for r, _ in TOPOLOGY.http_routes))
def test_every_client_route_refuses_an_old_client_and_serves_a_current_one(route_key: str) -> None:
    # Given unity clients from 1.2.0 on (1.3.1 blocked, 1.5.0 recommended)
    # When a too old, a blocked, an outdated, a current client and one that does not say call the route
    too_old, blocked, outdated, current, unnamed = (
        call_as_client(route_key, client, UNITY_FROM_1_2)
        for client in ("unity/1.1.0", "unity/1.3.1", "unity/1.4.0", "unity/1.5.0", None)
    )
    must_say = call_as_client(route_key, None, UNITY_FROM_1_2.model_copy(update={"require_version": True}))

    # Then a current client is served as if no version were checked, an outdated one with a warning
    assert current.status == unnamed.status != 426, current.body
    assert "X-Client-Warning" not in current.headers
    assert outdated.status == current.status
    if route_key in ANSWERS_ANY_CLIENT:
        assert too_old.status == blocked.status == must_say.status == current.status
        return
    assert "1.5.0" in outdated.headers["X-Client-Warning"]
    # And old, blocked and unnamed clients are told to upgrade, the minimum named, nothing echoed
    for refused in (too_old, blocked, must_say):
        assert_refused(refused, 426, "upgrade_required", not_quoting="1.1.0")
    assert too_old.body["error"]["details"] == {"platform": "unity", "minimum": "1.2.0"}
    assert "1.3.1" not in json.dumps(blocked.body)


def test_every_http_function_but_the_webhook_reads_the_client_policy() -> None:
    # Least privilege: the settings table read only, but by the API that changes settings
    from aicore.topology import SETTINGS, Access

    expected = {"payments-webhook": None, "settings-api": Access.READ_WRITE}
    for function in {fn.name: fn for _, fn in TOPOLOGY.http_routes}.values():
        assert dict(function.tables).get(SETTINGS) == expected.get(function.name, Access.READ), function.name
