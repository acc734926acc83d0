"""The events API Gateway hands to Lambda, and how it reads Lambda's answers. Pure: no sockets.

Shapes follow the AWS documentation: HTTP API proxy events (payload format 2.0) and its Lambda
authorizer (payload format 2.0, simple responses); WebSocket API REQUEST authorizer (an IAM
policy answer) and CONNECT / MESSAGE / DISCONNECT proxy events.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from pydantic_core import from_json

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
HTTP_STAGE = "$default"
SPECIAL_WEBSOCKET_ROUTES = frozenset({"$connect", "$disconnect", "$default"})
_ID_ALPHABET = string.ascii_letters + string.digits
_TEXT_MEDIA_TYPES = frozenset({"application/json", "application/xml", "application/javascript"})

Invoke = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""Invoke a function by name with an event, as API Gateway's Lambda integration does."""


class MalformedAnswer(ValueError):
    """A Lambda answer API Gateway could not use (it would answer 500 Internal Server Error)."""


# --- small facts -------------------------------------------------------------------------------


def now_ms() -> int:
    return int(time.time() * 1000)


def new_request_id() -> str:
    return str(uuid.uuid4())


def new_connection_id() -> str:
    """Shaped like API Gateway's connection and message ids, e.g. `L0SM9cOFvHcCIhw=`."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(15)) + "="


def new_trace_id(at_ms: int) -> str:
    return f"Root=1-{at_ms // 1000:08x}-{secrets.token_hex(12)}"


def clf_time(at_ms: int) -> str:
    """`16/Oct/2020:18:30:16 +0000`, API Gateway's `requestTime`/`time`."""
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def iso_time(at_ms: int) -> str:
    """`2020-10-16T18:30:16.390Z`, as the @connections API reports times."""
    return datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Api:
    """What an event says about the API itself."""

    api_id: str
    stage: str
    account_id: str = ACCOUNT_ID
    region: str = REGION

    def arn(self, *path: str) -> str:
        return f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/" + "/".join(path)


def single_and_multi_values(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """REST-style (v1) maps: last value wins in the single map, every value in the multi map."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def comma_joined(pairs: Iterable[tuple[str, str]], *, lower_names: bool = False) -> dict[str, str]:
    """HTTP API (v2) maps: repeated names joined with commas."""
    joined: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower() if lower_names else name
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


# --- WebSocket API -----------------------------------------------------------------------------


@dataclass
class WebSocketPeer:
    """One client connection, as the WebSocket API's events describe it."""

    connection_id: str
    domain_name: str
    source_ip: str
    user_agent: str | None
    connected_at_ms: int = field(default_factory=now_ms)
    authorizer: dict[str, Any] | None = None

    def identity(self) -> dict[str, str]:
        identity = {"sourceIp": self.source_ip}
        if self.user_agent is not None:
            identity["userAgent"] = self.user_agent
        return identity


@dataclass(frozen=True)
class Handshake:
    """The upgrade request of `$connect`: headers as sent (original case) and the query."""

    headers: list[tuple[str, str]]
    query: list[tuple[str, str]]


def websocket_request_context(
    api: Api, peer: WebSocketPeer, route_key: str, event_type: str
) -> dict[str, Any]:
    at_ms = now_ms()
    request_id = new_request_id()
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": clf_time(at_ms),
        "messageDirection": "IN",
        "stage": api.stage,
        "connectedAt": peer.connected_at_ms,
        "requestTimeEpoch": at_ms,
        "identity": peer.identity(),
        "requestId": request_id,
        "domainName": peer.domain_name,
        "connectionId": peer.connection_id,
        "apiId": api.api_id,
    }
    if peer.authorizer is not None:
        context["authorizer"] = peer.authorizer
    return context


def _handshake_fields(peer: WebSocketPeer, handshake: Handshake) -> dict[str, Any]:
    forwarded = [
        ("X-Amzn-Trace-Id", new_trace_id(peer.connected_at_ms)),
        ("X-Forwarded-For", peer.source_ip),
        ("X-Forwarded-Proto", "http"),
    ]
    headers, multi_headers = single_and_multi_values([*handshake.headers, *forwarded])
    fields: dict[str, Any] = {"headers": headers, "multiValueHeaders": multi_headers}
    if handshake.query:
        query, multi_query = single_and_multi_values(handshake.query)
        fields |= {"queryStringParameters": query, "multiValueQueryStringParameters": multi_query}
    return fields


def websocket_authorizer_event(api: Api, peer: WebSocketPeer, handshake: Handshake) -> dict[str, Any]:
    """The REQUEST authorizer event of a WebSocket API's `$connect`."""
    return {
        "type": "REQUEST",
        "methodArn": api.arn(api.stage, "$connect"),
        **_handshake_fields(peer, handshake),
        "stageVariables": {},
        "requestContext": websocket_request_context(api, peer, "$connect", "CONNECT"),
    }


def websocket_connect_event(api: Api, peer: WebSocketPeer, handshake: Handshake) -> dict[str, Any]:
    return {
        **_handshake_fields(peer, handshake),
        "requestContext": websocket_request_context(api, peer, "$connect", "CONNECT"),
        "isBase64Encoded": False,
    }


def websocket_message_event(
    api: Api, peer: WebSocketPeer, route_key: str, data: str | bytes
) -> dict[str, Any]:
    context = websocket_request_context(api, peer, route_key, "MESSAGE")
    context["messageId"] = new_connection_id()
    binary = isinstance(data, bytes)
    body = base64.b64encode(data).decode("ascii") if isinstance(data, bytes) else data
    return {"requestContext": context, "body": body, "isBase64Encoded": binary}


def websocket_disconnect_event(
    api: Api, peer: WebSocketPeer, status_code: int, reason: str
) -> dict[str, Any]:
    context = websocket_request_context(api, peer, "$disconnect", "DISCONNECT")
    context |= {"disconnectStatusCode": status_code, "disconnectReason": reason}
    headers = {"Host": peer.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    return {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def select_route_key(data: str | bytes, route_keys: Collection[str]) -> str:
    """Route selection `$request.body.action`; anything that names no declared route -> `$default`.

    A body the expression cannot be evaluated on (binary, not JSON, or nested past what a JSON
    reader takes: jiter's 200 levels here) names no route either: it goes to `$default` too, so a
    frame never breaks the connection.
    """
    if isinstance(data, bytes):
        return "$default"
    try:
        frame = from_json(data)
    except ValueError:
        return "$default"
    action = frame.get("action") if isinstance(frame, dict) else None
    if isinstance(action, str) and action in route_keys and action not in SPECIAL_WEBSOCKET_ROUTES:
        return action
    return "$default"


def policy_allows(answer: Any) -> bool:
    """Whether a REQUEST authorizer's IAM policy allows: some Allow and no explicit Deny."""
    try:
        statements = answer["policyDocument"]["Statement"]
        if isinstance(statements, Mapping):
            statements = [statements]
        effects = {statement["Effect"] for statement in statements}
    except (KeyError, TypeError) as exc:
        raise MalformedAnswer(f"not an IAM policy answer: {exc!r}") from exc
    return "Allow" in effects and "Deny" not in effects


def websocket_authorizer_context(answer: Mapping[str, Any], latency_ms: int) -> dict[str, Any]:
    """`requestContext.authorizer` of every later event on the connection."""
    context = answer.get("context") or {}
    if not isinstance(context, Mapping):
        raise MalformedAnswer("the authorizer's context must be an object")
    return {"principalId": answer.get("principalId"), "integrationLatency": latency_ms, **context}


def gateway_error_frame(message: str, peer: WebSocketPeer, request_id: str) -> str:
    """What API Gateway itself sends a client when a route fails (`Internal server error`, ...)."""
    return json.dumps({"message": message, "connectionId": peer.connection_id, "requestId": request_id})


def status_code_of(answer: Any) -> int:
    """The `statusCode` of a `$connect` answer; an answer without one accepts the connection."""
    if isinstance(answer, Mapping) and "statusCode" in answer:
        try:
            return int(answer["statusCode"])
        except (TypeError, ValueError) as exc:
            raise MalformedAnswer(f"statusCode is not a number: {answer['statusCode']!r}") from exc
    return 200


# --- HTTP API ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    """The facts of one HTTP request that an HTTP API event carries."""

    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]  # as received, repeats kept
    source_ip: str
    domain_name: str
    body: bytes = b""
    protocol: str = "HTTP/1.1"
    received_at_ms: int = field(default_factory=now_ms)
    request_id: str = field(default_factory=new_request_id)

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return ",".join(values) if values else None


def http_headers_and_cookies(request: HttpRequest) -> tuple[dict[str, str], list[str]]:
    cookies = [
        cookie.strip()
        for name, value in request.headers
        if name.lower() == "cookie"
        for cookie in value.split(";")
        if cookie.strip()
    ]
    forwarded = [
        ("x-amzn-trace-id", new_trace_id(request.received_at_ms)),
        ("x-forwarded-for", request.source_ip),
        ("x-forwarded-proto", "http"),
    ]
    kept = [(name, value) for name, value in request.headers if name.lower() != "cookie"]
    return comma_joined([*kept, *forwarded], lower_names=True), cookies


def is_text_media_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return (
        media.startswith("text/")
        or media in _TEXT_MEDIA_TYPES
        or media.endswith("+json")
        or media.endswith("+xml")
    )


def http_body_fields(request: HttpRequest) -> dict[str, Any]:
    """`body` as text for text media types, else base64 with `isBase64Encoded`."""
    if not request.body:
        return {"isBase64Encoded": False}
    if is_text_media_type(request.header("content-type")):
        try:
            return {"body": request.body.decode("utf-8"), "isBase64Encoded": False}
        except UnicodeDecodeError:
            pass
    return {"body": base64.b64encode(request.body).decode("ascii"), "isBase64Encoded": True}


def http_request_context(api: Api, request: HttpRequest, route_key: str) -> dict[str, Any]:
    return {
        "accountId": api.account_id,
        "apiId": api.api_id,
        "domainName": request.domain_name,
        "domainPrefix": request.domain_name.split(".", 1)[0].split(":", 1)[0],
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.header("user-agent") or "",
        },
        "requestId": request.request_id,
        "routeKey": route_key,
        "stage": api.stage,
        "time": clf_time(request.received_at_ms),
        "timeEpoch": request.received_at_ms,
    }


def _http_common_fields(
    api: Api, request: HttpRequest, route_key: str, path_parameters: Mapping[str, str]
) -> dict[str, Any]:
    headers, cookies = http_headers_and_cookies(request)
    query = comma_joined(parse_qsl(request.raw_query, keep_blank_values=True))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": http_request_context(api, request, route_key),
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    return event


def http_authorizer_event(
    api: Api, request: HttpRequest, route_key: str, path_parameters: Mapping[str, str]
) -> dict[str, Any]:
    """Lambda authorizer event, payload format 2.0; identity source `$request.header.Authorization`."""
    route_arn = api.arn(api.stage, request.method, request.raw_path.lstrip("/"))
    return {
        **_http_common_fields(api, request, route_key, path_parameters),
        "type": "REQUEST",
        "routeArn": route_arn,
        "identitySource": [request.header("authorization") or ""],
    }


def http_proxy_event(
    api: Api,
    request: HttpRequest,
    route_key: str,
    path_parameters: Mapping[str, str],
    authorizer_context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Proxy integration event, payload format 2.0."""
    event = _http_common_fields(api, request, route_key, path_parameters)
    if authorizer_context is not None:
        event["requestContext"]["authorizer"] = {"lambda": dict(authorizer_context)}
    return event | http_body_fields(request)


def simple_authorizer_decision(answer: Any) -> tuple[bool, dict[str, Any]]:
    """`{"isAuthorized": bool, "context": {...}}` -> (authorized, context)."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("isAuthorized"), bool):
        raise MalformedAnswer("a simple authorizer response needs a boolean isAuthorized")
    context = answer.get("context") or {}
    if not isinstance(context, Mapping):
        raise MalformedAnswer("the authorizer's context must be an object")
    return answer["isAuthorized"], dict(context)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def http_response_from_answer(answer: Any) -> HttpResponse:
    """A handler's answer as API Gateway (payload format 2.0) turns it into an HTTP response."""
    if not (isinstance(answer, Mapping) and "statusCode" in answer):
        body = json.dumps(answer).encode()
        return HttpResponse(200, [("Content-Type", "application/json")], body)
    status = status_code_of(answer)
    headers = [(str(name), str(value)) for name, value in (answer.get("headers") or {}).items()]
    headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
    headers += [("Set-Cookie", str(cookie)) for cookie in answer.get("cookies") or ()]
    return HttpResponse(status, headers, _response_body(answer))


def _response_body(answer: Mapping[str, Any]) -> bytes:
    body = answer.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedAnswer("body must be a string")
    if answer.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except ValueError as exc:
            raise MalformedAnswer("isBase64Encoded is set but body is not base64") from exc
    return body.encode("utf-8")
