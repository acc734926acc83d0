"""HTTP API plumbing shared by the HTTP handlers: routing with Powertools, answers in the envelope."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from aicore.auth import Caller
from aicore.envelope import Operation, operation
from aicore.errors import NotFound

CORRELATION_ID_PATH = "requestContext.requestId"
P = ParamSpec("P")


def respond(op: Operation) -> Response[str]:
    assert op.envelope is not None, "the operation has not finished"
    return Response(
        status_code=op.status, content_type="application/json", body=op.envelope.model_dump_json()
    )


def correlation_id(app: APIGatewayHttpResolver) -> str:
    headers = app.current_event.headers or {}
    return headers.get("x-correlation-id") or app.current_event.request_context.request_id


def caller(app: APIGatewayHttpResolver) -> Caller:
    """The identity the API's Lambda authorizer verified for this request."""
    authorizer = app.current_event.raw_event["requestContext"].get("authorizer") or {}
    return Caller.from_context(authorizer.get("lambda") or {})


def envelope_route(
    app: APIGatewayHttpResolver, name: str
) -> Callable[[Callable[P, Any]], Callable[P, Response[str]]]:
    """A route whose return value (or domain error) becomes the envelope."""

    def decorate(route: Callable[P, Any]) -> Callable[P, Response[str]]:
        @wraps(route)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> Response[str]:
            with operation(name, correlation_id(app)) as op:
                op.succeed(route(*args, **kwargs))
            return respond(op)

        return wrapped

    return decorate


def resolver() -> APIGatewayHttpResolver:
    """A resolver whose unknown routes also answer in the envelope."""
    app = APIGatewayHttpResolver()

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        path = app.current_event.path
        with operation("http.not_found", correlation_id(app)) as op:
            raise NotFound(f"No route for {app.current_event.http_method} {path}.")
        return respond(op)

    return app
