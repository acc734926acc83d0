"""`$default`: a frame no route took (not JSON, no action, unknown action) gets a clear error frame."""

from typing import Any, NoReturn

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.connections import ClientPusher
from aicore.frames import parse_client_frame
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.ws import WebSocketRequest, serve_frame


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any], context: LambdaContext, pusher: ClientPusher | None = None
) -> dict[str, int]:
    return serve_frame(event, pusher or wiring.pusher(), "frame.route", "error", _refuse)


def _refuse(request: WebSocketRequest) -> NoReturn:
    frame = parse_client_frame(request.body, binary=request.is_base64_encoded)
    # A known action reaching $default means its route is missing: a deployment fault.
    raise RuntimeError(f"action {frame.action} reached $default")
