"""WebSocket route plumbing shared by the WebSocket handlers: read the event, answer with a frame."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aicore.connections import ClientPusher
from aicore.envelope import Operation
from aicore.frames import reply_frame, request_id_of

OK = {"statusCode": 200}


class _RequestContext(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    connection_id: str = Field(alias="connectionId")
    request_id: str = Field(alias="requestId")
    route_key: str = Field(alias="routeKey")
    authorizer: dict[str, Any] = {}


class WebSocketRequest(BaseModel):
    """The parts of an API Gateway WebSocket event that handlers use."""

    request_context: _RequestContext = Field(alias="requestContext")
    body: str | None = None
    query: dict[str, str] | None = Field(None, alias="queryStringParameters")

    @property
    def connection_id(self) -> str:
        return self.request_context.connection_id

    @property
    def correlation_id(self) -> str:
        return self.request_context.request_id

    @property
    def request_id(self) -> str | None:
        """The client's id for this frame, if it sent a readable one."""
        return request_id_of(self.body)


def answer(pusher: ClientPusher, request: WebSocketRequest, op: Operation, reply_type: str) -> dict[str, int]:
    """Send the operation's envelope as the frame that ends the request."""
    assert op.envelope is not None, "the operation has not finished"
    pusher.send(request.connection_id, reply_frame(request.request_id, op.envelope, reply_type))
    return OK
