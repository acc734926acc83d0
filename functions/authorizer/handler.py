"""Lambda authorizer for both APIs: WebSocket `$connect` (?token=) and the HTTP API (Bearer)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore.auth import Caller, bearer_token
from aicore.errors import Unauthorized
from aicore.observability import CORRELATION_ID_PATH, entrypoint, logger
from aicore.settings import get_settings
from aicore.tokens import TokenIssuer, issuer_for


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any], context: LambdaContext, issuer: TokenIssuer | None = None
) -> dict[str, Any]:
    issuer = issuer or issuer_for(get_settings())
    if event.get("version") == "2.0":
        return _http_api(event, issuer)
    return _websocket(event, issuer)


def _http_api(event: dict[str, Any], issuer: TokenIssuer) -> dict[str, Any]:
    token = bearer_token((event.get("headers") or {}).get("authorization"))
    try:
        caller = issuer.verify(token)
    except Unauthorized as exc:
        logger.info("HTTP request refused", extra={"reason": exc.message})
        return {"isAuthorized": False, "context": {}}
    return {"isAuthorized": True, "context": caller.as_context()}


def _websocket(event: dict[str, Any], issuer: TokenIssuer) -> dict[str, Any]:
    token = (event.get("queryStringParameters") or {}).get("token")
    try:
        caller = issuer.verify(token)
    except Unauthorized as exc:
        logger.info("WebSocket connect refused", extra={"reason": exc.message})
        raise Exception("Unauthorized") from exc  # API Gateway's contract for a 401
    return _allow(event["methodArn"], caller)


def _allow(method_arn: str, caller: Caller) -> dict[str, Any]:
    return {
        "principalId": caller.subject,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": method_arn}],
        },
        "context": caller.as_context(),
    }
