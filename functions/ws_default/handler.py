"""`$default`: a frame no route took (not JSON, no action, unknown action) gets a clear error frame."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.connections import ClientPusher
from aicore.envelope import operation
from aicore.frames import parse_client_frame
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.ws import WebSocketRequest, answer


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any], context: LambdaContext, pusher: ClientPusher | None = None
) -> dict[str, int]:
    pusher = pusher or wiring.pusher()
    request = WebSocketRequest.model_validate(event)
    with operation("frame.route", request.correlation_id) as op:
        frame = parse_client_frame(request.body, binary=bool(event.get("isBase64Encoded")))
        # A known action reaching $default means its route is missing: a deployment fault.
        raise RuntimeError(f"action {frame.action} reached $default")
    return answer(pusher, request, op, "error")
