"""`$disconnect`: forgets the connection."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.connections import ConnectionStore
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.ws import OK, WebSocketRequest


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any], context: LambdaContext, store: ConnectionStore | None = None
) -> dict[str, int]:
    store = store or wiring.connections()
    store.delete(WebSocketRequest.model_validate(event).connection_id)
    return OK
