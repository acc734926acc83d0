"""HTTP API plumbing shared by the HTTP handlers: routing with Powertools, answers in the envelope."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from aicore.auth import EXPIRES_AT, Caller, token_expiry
from aicore.clock import Clock, now
from aicore.envelope import Operation, operation
from aicore.errors import InvalidJson, InvalidRequest, NotFound, PreconditionRequired, Unauthorized
from aicore.inputs import IDENTIFIER_RULE, is_identifier, parse_count, parse_json
from aicore.observability import event_request_id, logger
from aicore.platform.clients import CLIENT_HEADER, ClientPolicy, Verdict, admit, client_of

P = ParamSpec("P")
M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 1024 * 1024  # our largest body, 25 messages of 4,000 characters, fits with room
_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# `3`, `"3"` or `W/"3"`: one version, as ETags are written
_IF_MATCH = re.compile(r'(?:W/)?(")?([0-9]+)(?(1)")')


def respond(op: Operation, headers: Mapping[str, str] | None = None) -> Response[str]:
    assert op.envelope is not None, "the operation has not finished"
    return Response(
        status_code=op.status,
        content_type="application/json",
        body=op.envelope.model_dump_json(),
        headers=dict(headers) if headers else None,
    )


def correlation_id(app: APIGatewayHttpResolver) -> str:
    """The caller's `x-correlation-id` if it is a plain id (letters, digits, `._:-`, at most 128),
    else API Gateway's request id: a header never reaches an answer or a log line unchecked."""
    offered = (app.current_event.headers or {}).get("x-correlation-id")
    if offered is not None and _CORRELATION_ID.fullmatch(offered):
        return offered
    return app.current_event.request_context.request_id


def caller(app: APIGatewayHttpResolver, clock: Clock = now) -> Caller:
    """The identity the API's Lambda authorizer verified for this request, while its token is valid
    (API Gateway may answer from the authorizer's cache for minutes after the token expired)."""
    authorizer = app.current_event.raw_event["requestContext"].get("authorizer") or {}
    context = authorizer.get("lambda") or {}
    verified = Caller.from_context(context)
    if EXPIRES_AT in context and clock().timestamp() >= token_expiry(context):
        raise Unauthorized("Your token has expired: get a fresh one.")
    return verified


CLIENT_POLICY = "client_policy"  # app.context: the API's ClientPolicies (None: no game client calls it)
CLIENT_WARNING_HEADER = "X-Client-Warning"
ClientPolicies = Callable[[], ClientPolicy]  # the policy as a handler reads it now (settings, <= 30 s old)


def _admit_client(app: APIGatewayHttpResolver) -> str | None:
    """`X-Client-Version: <platform>/<version>` against the API's policy: raises `UpgradeRequired`
    (426) for a blocked or too old client; the warning for an outdated one."""
    policy: ClientPolicies | None = app.context.get(CLIENT_POLICY)
    if policy is None:
        return None
    raw = (app.current_event.headers or {}).get(CLIENT_HEADER)
    admission = admit(policy(), client_of(raw, "X-Client-Version"))
    return admission.message if admission.verdict is Verdict.OUTDATED else None


def envelope_route(
    app: APIGatewayHttpResolver,
    name: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    any_client: bool = False,
) -> Callable[[Callable[P, Any]], Callable[P, Response[str]]]:
    """A route whose return value (answered with `status`) or domain error becomes the envelope;
    `headers` go on every answer of the route (e.g. `Cache-Control: no-store` on tokens). The client's
    version is admitted first (see `serve`), except where `any_client`: routes that say what the
    service is (status, capabilities) answer whoever asks, an old client included."""

    def decorate(route: Callable[P, Any]) -> Callable[P, Response[str]]:
        @wraps(route)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> Response[str]:
            correlation = correlation_id(app)
            logger.set_correlation_id(correlation)
            warning: str | None = None
            with operation(name, correlation) as op:
                warning = None if any_client else _admit_client(app)
                op.succeed(route(*args, **kwargs), status)
            answer_headers = dict(headers or {}) | ({CLIENT_WARNING_HEADER: warning} if warning else {})
            return respond(op, answer_headers)

        return wrapped

    return decorate


def json_body(app: APIGatewayHttpResolver, model: type[M]) -> M:
    """The request's JSON body as `model`: UTF-8, at most MAX_BODY_BYTES, nested at most
    MAX_JSON_DEPTH deep; anything else is the caller's mistake (400 or 413), never ours."""
    raw = parse_json(_body(app), what="The body", max_bytes=MAX_BODY_BYTES)
    return model.model_validate(raw)


def _body(app: APIGatewayHttpResolver) -> str | bytes:
    """The body as sent: API Gateway passes a body that is not text (or not UTF-8) in base64."""
    body = app.current_event.body or ""
    if not app.current_event.is_base64_encoded:
        return body
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        raise InvalidJson("The body could not be read: send JSON encoded as UTF-8.") from None


def query_int(app: APIGatewayHttpResolver, name: str) -> int | None:
    """An integer query parameter (`?limit=20`), in ASCII digits; None when it is not given."""
    raw = (app.current_event.query_string_parameters or {}).get(name)
    if raw is None or raw == "":
        return None
    return parse_count(raw, what=f"'{name}'")


_FLAGS = {"true": True, "1": True, "false": False, "0": False}


def query_flag(app: APIGatewayHttpResolver, name: str) -> bool:
    """A yes/no query parameter (`?dry_run=true`): `true`/`1` or `false`/`0`; not given: False."""
    raw = (app.current_event.query_string_parameters or {}).get(name)
    if raw is None or raw == "":
        return False
    if raw.lower() not in _FLAGS:
        raise InvalidRequest(f"'{name}' is true or false (or 1 or 0).")
    return _FLAGS[raw.lower()]


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
    found = _IF_MATCH.fullmatch(raw.strip())
    if found is None:
        raise InvalidRequest("If-Match must be one version number, as in 'If-Match: 3'.")
    return parse_count(found.group(2), what="The If-Match version")


def path_id(value: str, what: str) -> str:
    """An id from the path. One that breaks the identifier rule names nothing we hold: 404,
    without quoting it back."""
    if not is_identifier(value):
        raise NotFound(f"There is no {what} with that id: ids are {IDENTIFIER_RULE}.")
    return value


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
    """A resolver whose unknown routes and unexpected failures also answer in the envelope."""
    app = APIGatewayHttpResolver()

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        with operation("http.not_found", correlation_id(app)) as op:
            raise NotFound("There is no such route: check the method and the path.")
        return respond(op)

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def unexpected(exc: Exception) -> Response[str]:
        with operation("http.route", correlation_id(app)) as op:
            raise exc
        return respond(op)

    return app


def serve(
    app: APIGatewayHttpResolver,
    event: Mapping[str, Any],
    context: LambdaContext,
    *,
    clients: ClientPolicies | None,
) -> dict[str, Any]:
    """`app.resolve`, with an envelope even for an event it cannot read (never a Lambda error).

    `clients`: the client policy every route admits `X-Client-Version` against (426 for a blocked or
    too old client); None only for an API no game client calls (a payment provider's webhook)."""
    try:
        app.append_context(**{CLIENT_POLICY: clients})  # type: ignore[no-untyped-call]
        return app.resolve(event, context)
    except Exception as exc:
        with operation("http.request", event_request_id(event)) as op:
            raise exc
        assert op.envelope is not None
        return {
            "statusCode": op.status,
            "headers": {"Content-Type": "application/json"},
            "body": op.envelope.model_dump_json(),
        }
