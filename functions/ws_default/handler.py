"""`$default`: a frame no route took (not JSON, no action, unknown action) gets a clear error frame.
Also the connection frames of protocol v2: `ping` -> `pong`, `connection.hello` -> `connection.welcome`,
and `npc.interrupt` -> `npc.interrupted` (aicore.npc.interrupts: it marks a streaming turn's claim)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from aicore import wiring
from aicore.connections import ClientPusher
from aicore.errors import UnknownAction
from aicore.frames import ConnectionHello, Ping, parse_client_frame, protocol_of
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.ws import WebSocketRequest, serve_frame

if TYPE_CHECKING:  # imported when a connection frame comes: the $default path stays small
    from aicore.npc.interrupts import InterruptDeps
    from aicore.protocol import ConnectionFrameDeps


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    pusher: ClientPusher | None = None,
    deps: ConnectionFrameDeps | None = None,
    interrupts: InterruptDeps | None = None,
) -> dict[str, int]:
    route_key = str((event.get("requestContext") or {}).get("routeKey"))
    if route_key == "npc.interrupt":
        return _interrupt(event, interrupts or wiring.interrupt_deps())
    if route_key in ("ping", "connection.hello"):
        return _connection_frame(event, route_key, deps or wiring.connection_frame_deps())
    return serve_frame(event, pusher or wiring.pusher(), "frame.route", "error", _refuse)


def _connection_frame(event: dict[str, Any], route_key: str, deps: ConnectionFrameDeps) -> dict[str, int]:
    from aicore.protocol import REPLY_TYPES, answer_connection_frame

    def act(request: WebSocketRequest) -> BaseModel:
        frame = parse_client_frame(request.body)
        if not isinstance(frame, Ping | ConnectionHello):
            raise UnknownAction(f"This route does not handle {frame.action!r}.", {"action": frame.action})
        return answer_connection_frame(frame, request.caller(deps.clock), deps, protocol_of(request.encoding))

    return serve_frame(event, deps.pusher, route_key, REPLY_TYPES[route_key], act)


def _interrupt(event: dict[str, Any], deps: InterruptDeps) -> dict[str, int]:
    from aicore.frames import NpcInterrupt, parse_frame
    from aicore.npc.interrupts import interrupt

    def act(request: WebSocketRequest) -> BaseModel:
        frame = parse_frame(request.body, NpcInterrupt)
        return interrupt(frame, request.caller(deps.clock), deps.requests, deps.clock)

    return serve_frame(event, deps.pusher, "npc.interrupt", "npc.interrupted", act)


def _refuse(request: WebSocketRequest) -> NoReturn:
    frame = parse_client_frame(request.body, binary=request.is_base64_encoded)
    # A known action reaching $default means its route is missing: a deployment fault.
    raise RuntimeError(f"action {frame.action} reached $default")
