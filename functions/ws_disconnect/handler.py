"""`$disconnect`: forgets the connection."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.connections import ConnectionStore
from aicore.observability import CORRELATION_ID_PATH, entrypoint, logger
from aicore.ws import OK, connection_id_of


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any], context: LambdaContext, store: ConnectionStore | None = None
) -> dict[str, int]:
    connection_id = connection_id_of(event)
    if connection_id is None:
        logger.error("A $disconnect event without a connection id")
        return {"statusCode": 500}
    (store or wiring.connections()).delete(connection_id)
    return OK
