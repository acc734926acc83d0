"""`$connect`: answers the subprotocol the client asked for (`Sec-WebSocket-Protocol`:
`aicore.proto.v1` or `aicore.json.v1`; none: JSON), admits the client's version
(`?client=<platform>/<version>`, the policy in settings), then records who is on this connection,
in which encoding, and until when (the authorizer verified the token).

A refusal is the handshake's HTTP status (API Gateway turns the connection away with it): 426 for
a blocked or too old client, 400 for a `client` that does not parse. What a client may send is
published by `GET /capabilities` (no token), which names each platform's minimum version.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from aicore import wiring
from aicore.auth import Caller, token_expiry
from aicore.clock import Clock, now
from aicore.connections import ConnectionStore, new_connection
from aicore.envelope import spec_for
from aicore.errors import InvalidRequest, Unauthorized, UpgradeRequired
from aicore.frames import SUBPROTOCOL_HEADER, encoding_of, negotiate
from aicore.observability import CORRELATION_ID_PATH, entrypoint, logger
from aicore.platform.clients import CLIENT_QUERY, admit, client_of
from aicore.platform.settings import SettingsCache
from aicore.ws import OK, WebSocketRequest


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    store: ConnectionStore | None = None,
    clock: Clock = now,
    settings: SettingsCache | None = None,
) -> dict[str, Any]:
    store = store or wiring.connections()
    try:
        request = WebSocketRequest.model_validate(event)
        authorizer = request.request_context.authorizer
        caller, expires_at = Caller.from_context(authorizer), token_expiry(authorizer)
    except ValidationError:
        logger.exception("A $connect event without a connection id")
        return {"statusCode": 500}
    except Unauthorized as refused:
        logger.warning("Connect without a verified identity", extra={"reason": refused.message})
        return {"statusCode": 401}
    try:
        subprotocol = negotiate(request.headers)
    except InvalidRequest as refused:
        logger.info("Connect refused for its subprotocols", extra={"reason": refused.message})
        return {"statusCode": 400}
    connection = new_connection(request.connection_id, caller, expires_at, clock, encoding_of(subprotocol))
    if connection.expired(clock):
        logger.info("Connect with a token that has just expired")
        return {"statusCode": 401}
    try:
        client = client_of((request.query or {}).get(CLIENT_QUERY), "'?client='")
        admit((settings or wiring.settings_cache()).everywhere().clients, client)
    except (InvalidRequest, UpgradeRequired) as refused:
        logger.info("Connect refused for the client's version", extra={"reason": refused.message})
        return {"statusCode": spec_for(refused).status}
    store.put(connection)
    logger.info("Connected", extra={"player": caller.subject, "world": caller.world_id})
    # API Gateway answers the handshake with these headers; without the subprotocol a browser drops it
    return OK if subprotocol is None else {**OK, "headers": {SUBPROTOCOL_HEADER: subprotocol}}
