"""Calling a function's real handler from a unit test: imported by its module path, as Lambda does.

`invoke("session-archiver", event, tiering=...)` passes the fakes as the handler's optional
dependencies; `http_event(...)` is `tests/events/http_request.json` aimed at one route.
"""

from __future__ import annotations

import json
from typing import Any

import aicore.observability  # noqa: F401  # before a unit test blocks sockets: X-Ray's emitter makes one
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.topology import TOPOLOGY
from tests.events import load_event

LAMBDAS = Lambdas()  # one cold start per function for the whole test session


def invoke(function: str, event: dict[str, Any], **dependencies: Any) -> Any:
    fn = TOPOLOGY.function(function)
    handler = getattr(LAMBDAS.module(fn), fn.function_name)
    return handler(event, LambdaContext(fn.name, fn.memory_mb, fn.timeout_s), **dependencies)


def http_event(
    method: str,
    route: str,
    path: str,
    *,
    body: Any = None,
    identity: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event for `method route` at `path`, as the authorizer let it through."""
    event = load_event("http_request")
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {route}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event.pop("pathParameters", None)
    if identity is not None:
        event["requestContext"]["authorizer"]["lambda"] = identity
    event["headers"] |= headers or {}
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def http_answer(answer: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(status, envelope) of an HTTP handler's answer."""
    envelope: dict[str, Any] = json.loads(answer["body"])
    return answer["statusCode"], envelope
