"""`$connect`: records who is on this connection (the authorizer has verified the token)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.auth import Caller
from aicore.connections import ConnectionStore, new_connection
from aicore.errors import Unauthorized
from aicore.observability import CORRELATION_ID_PATH, entrypoint, logger
from aicore.ws import OK, WebSocketRequest


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any], context: LambdaContext, store: ConnectionStore | None = None
) -> dict[str, int]:
    store = store or wiring.connections()
    request = WebSocketRequest.model_validate(event)
    try:
        caller = Caller.from_context(request.request_context.authorizer)
    except Unauthorized:
        logger.warning("Connect without a verified identity")
        return {"statusCode": 401}
    store.put(new_connection(request.connection_id, caller))
    logger.info("Connected", extra={"player": caller.subject, "world": caller.world_id})
    return OK
