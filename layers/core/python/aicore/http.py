"""HTTP API plumbing shared by the HTTP handlers: routing with Powertools, answers in the envelope."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from pydantic import BaseModel, ValidationError

from aicore.auth import Caller
from aicore.envelope import Operation, operation
from aicore.errors import InvalidJson, InvalidRequest, NotFound, PreconditionRequired

P = ParamSpec("P")
M = TypeVar("M", bound=BaseModel)


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
    app: APIGatewayHttpResolver, name: str, status: int = 200
) -> Callable[[Callable[P, Any]], Callable[P, Response[str]]]:
    """A route whose return value (answered with `status`) or domain error becomes the envelope."""

    def decorate(route: Callable[P, Any]) -> Callable[P, Response[str]]:
        @wraps(route)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> Response[str]:
            with operation(name, correlation_id(app)) as op:
                op.succeed(route(*args, **kwargs), status)
            return respond(op)

        return wrapped

    return decorate


def json_body(app: APIGatewayHttpResolver, model: type[M]) -> M:
    """The request's JSON body as `model`; a body that is not JSON is the caller's mistake (400)."""
    body = app.current_event.decoded_body
    if not body or not body.strip():
        raise InvalidJson("The request needs a JSON body.")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise InvalidJson(f"The body is not valid JSON: {exc.errors()[0]['msg']}.") from None
        raise


def query_int(app: APIGatewayHttpResolver, name: str) -> int | None:
    """An integer query parameter (`?limit=20`); None when it is not given."""
    raw = (app.current_event.query_string_parameters or {}).get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidRequest(f"'{name}' must be an integer, not {raw[:32]!r}.", {name: raw[:32]}) from None


def if_match(app: APIGatewayHttpResolver, required: bool) -> int | None:
    """The version in `If-Match: <version>` (also `"3"` or `W/"3"`, as ETags are written)."""
    raw = (app.current_event.headers or {}).get("if-match")
    if raw is None:
        if required:
            raise PreconditionRequired(
                "This write needs 'If-Match: <version>': the version you read (GET), so that a stale "
                "writer never overwrites a newer change."
            )
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise InvalidRequest(f"If-Match must be a version number, not {raw[:32]!r}.")
    return int(value)


IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:\-]{1,100}")


def idempotency_key(app: APIGatewayHttpResolver) -> str | None:
    """`Idempotency-Key: <key>`: a write retried with the same key takes effect once."""
    raw = (app.current_event.headers or {}).get("idempotency-key")
    if raw is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(raw):
        raise InvalidRequest(
            "Idempotency-Key must be 1 to 100 characters of letters, digits, '_', '.', ':' or '-' "
            "(a UUID works)."
        )
    return raw


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
