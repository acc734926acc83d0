"""Lambda authorizer for both APIs: WebSocket `$connect` (?token=) and the HTTP API (Bearer)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore.auth import EXPIRES_AT, bearer_token
from aicore.errors import Unauthorized
from aicore.observability import CORRELATION_ID_PATH, entrypoint, logger
from aicore.settings import get_settings
from aicore.tokens import TokenIssuer, VerifiedToken, issuer_for


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
        verified = issuer.verify_token(token)
    except Unauthorized as exc:
        logger.info("HTTP request refused", extra={"reason": exc.message})
        return {"isAuthorized": False, "context": {}}
    return {"isAuthorized": True, "context": _context(verified)}


def _websocket(event: dict[str, Any], issuer: TokenIssuer) -> dict[str, Any]:
    token = (event.get("queryStringParameters") or {}).get("token")
    try:
        verified = issuer.verify_token(token)
    except Unauthorized as exc:
        logger.info("WebSocket connect refused", extra={"reason": exc.message})
        raise Exception("Unauthorized") from exc  # API Gateway's contract for a 401
    return _allow(event["methodArn"], verified)


def _context(verified: VerifiedToken) -> dict[str, str]:
    """Who the caller is, and until when (a WebSocket connection may not outlive the token)."""
    return {**verified.caller.as_context(), EXPIRES_AT: str(verified.expires_at)}


def _allow(method_arn: str, verified: VerifiedToken) -> dict[str, Any]:
    return {
        "principalId": verified.caller.subject,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": method_arn}],
        },
        "context": _context(verified),
    }
