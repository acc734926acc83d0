"""WebSocket route plumbing shared by the WebSocket handlers: read the event, answer with a frame.

`serve_frame` is the whole life of a frame route: whatever fails, from reading the event to the
work itself, the client gets an `error` frame in the envelope and the Lambda returns normally.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aicore.auth import Caller
from aicore.clock import Clock, now
from aicore.connections import ClientPusher, ConnectionExpired, connected_caller
from aicore.envelope import Operation, operation
from aicore.frames import ENCODING_CONTEXT, FRAME_ENCODINGS, reply_frame, request_id_of
from aicore.observability import event_request_id, logger

OK = {"statusCode": 200}


class _RequestContext(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    connection_id: str = Field(alias="connectionId", min_length=1, max_length=128)
    request_id: str = Field(alias="requestId", min_length=1, max_length=128)
    route_key: str = Field(alias="routeKey")
    authorizer: dict[str, Any] = {}


class UnreadableEvent(Exception):
    """An event that is not API Gateway's WebSocket event: our fault (a deployment), not the client's."""


class WebSocketRequest(BaseModel):
    """The parts of an API Gateway WebSocket event that handlers use."""

    request_context: _RequestContext = Field(alias="requestContext")
    body: str | None = None
    is_base64_encoded: bool = Field(False, alias="isBase64Encoded")
    query: dict[str, str] | None = Field(None, alias="queryStringParameters")
    headers: dict[str, str] | None = None  # `$connect` only

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> WebSocketRequest:
        try:
            return cls.model_validate(event)
        except ValidationError as exc:
            raise UnreadableEvent(f"not a WebSocket event: {len(exc.errors())} problems") from exc

    @property
    def connection_id(self) -> str:
        return self.request_context.connection_id

    @property
    def correlation_id(self) -> str:
        return self.request_context.request_id

    def caller(self, clock: Clock = now) -> Caller:
        """Who sent this frame (the `$connect` authorizer's context rides on every event of the
        connection), while the token the connection was opened with is valid."""
        return connected_caller(self.request_context.authorizer, clock)

    @property
    def encoding(self) -> str:
        """The connection's frame encoding (negotiated at `$connect`; the authorizer context carries it)."""
        return encoding_of_context(self.request_context.authorizer)

    @property
    def request_id(self) -> str | None:
        """The client's id for this frame, if it sent a readable one."""
        return None if self.is_base64_encoded else request_id_of(self.body)


def serve_frame(
    event: Mapping[str, Any],
    pusher: ClientPusher,
    name: str,
    reply_type: str,
    work: Callable[[WebSocketRequest], Any],
) -> dict[str, int]:
    """Read the event, run `work`, and send its envelope as the frame that ends the request
    (`reply_type` on success, `error` on failure). A connection whose token has expired is told
    so, then closed."""
    request: WebSocketRequest | None = None
    then: Callable[[], None] | None = None
    connection_id = connection_id_of(event)
    if connection_id is not None:  # every frame sent to it from here on is in its encoding
        context = event.get("requestContext") or {}
        pusher.speaks(connection_id, encoding_of_context(context.get("authorizer") or {}))
    with operation(name, event_request_id(event)) as op:
        request = WebSocketRequest.of(event)
        result = work(request)
        if isinstance(result, Deferred):
            result, then, reply_type = result.reply, result.then, result.reply_type or reply_type
        op.succeed(result)
    if request is not None:
        connection_id = request.connection_id
    if connection_id is None:
        logger.error("A WebSocket event without a connection id: nobody to answer")
        return {"statusCode": op.status}
    answer(pusher, connection_id, request.request_id if request else None, op, reply_type)
    if isinstance(op.failure, ConnectionExpired):
        pusher.close(connection_id)
    if then is not None:
        _after_reply(then)
    return OK


@dataclass
class Deferred:
    """A reply, and work that must not delay it: done once the client has the reply frame."""

    reply: Any
    then: Callable[[], None] | None = None
    reply_type: str | None = None  # None: the route's


def _after_reply(then: Callable[[], None]) -> None:
    try:
        then()
    except Exception:  # the player has the answer; a failure here is logged, and alarms, not raised
        logger.exception("Work after the reply failed")


def answer(
    pusher: ClientPusher, connection_id: str, request_id: str | None, op: Operation, reply_type: str
) -> None:
    """Send the operation's envelope as the frame that ends the request."""
    assert op.envelope is not None, "the operation has not finished"
    pusher.send(connection_id, reply_frame(request_id, op.envelope, reply_type))


def encoding_of_context(authorizer: Mapping[str, Any]) -> str:
    found = authorizer.get(ENCODING_CONTEXT)
    return found if isinstance(found, str) and found in FRAME_ENCODINGS else "json"


def connection_route(event: Mapping[str, Any]) -> str | None:
    """The route API Gateway matched for a raw event (`requestContext.routeKey`), if readable."""
    context = event.get("requestContext")
    found = context.get("routeKey") if isinstance(context, Mapping) else None
    return found if isinstance(found, str) else None


def connection_id_of(event: Mapping[str, Any]) -> str | None:
    """The connection id of a raw event, if it has a readable one."""
    context = event.get("requestContext")
    found = context.get("connectionId") if isinstance(context, Mapping) else None
    return found if isinstance(found, str) and 0 < len(found) <= 128 else None
