"""Lambda authorizer for both APIs: WebSocket `$connect` (?token=) and the HTTP API (Bearer).

Tokens are ES256 JWTs verified against the published public keys, cached per container (a kid it
has not seen makes it read them again, at most every few seconds): a key rotation needs no deploy.
"""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.auth import EXPIRES_AT, bearer_token
from aicore.errors import InvalidRequest, Unauthorized
from aicore.frames import ENCODING_CONTEXT, encoding_of, negotiate
from aicore.identity.tokens import TokenVerifier, VerifiedToken
from aicore.observability import CORRELATION_ID_PATH, entrypoint, logger
from aicore.platform.clients import CLIENT_CONTEXT, CLIENT_QUERY, client_of


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any], context: LambdaContext, verifier: TokenVerifier | None = None
) -> dict[str, Any]:
    verifier = verifier or wiring.token_verifier()
    if event.get("version") == "2.0":
        return _http_api(event, verifier)
    return _websocket(event, verifier)


def _http_api(event: dict[str, Any], verifier: TokenVerifier) -> dict[str, Any]:
    token = bearer_token((event.get("headers") or {}).get("authorization"))
    try:
        verified = verifier.verify_token(token)
    except Unauthorized as exc:
        logger.info("HTTP request refused", extra={"reason": exc.message})
        return {"isAuthorized": False, "context": {}}
    return {"isAuthorized": True, "context": _context(verified)}


def _websocket(event: dict[str, Any], verifier: TokenVerifier) -> dict[str, Any]:
    token = (event.get("queryStringParameters") or {}).get("token")
    try:
        verified = verifier.verify_token(token)
    except Unauthorized as exc:
        logger.info("WebSocket connect refused", extra={"reason": exc.message})
        raise Exception("Unauthorized") from exc  # API Gateway's contract for a 401
    return _allow(event["methodArn"], verified, _client(event), _encoding(event))


def _client(event: dict[str, Any]) -> str | None:
    """The client the connection says it is, if it reads as one (`$connect` refuses it otherwise):
    it rides on every frame's event, so a frame handler can tell an outdated client to update."""
    raw = (event.get("queryStringParameters") or {}).get(CLIENT_QUERY)
    try:
        client = client_of(raw if isinstance(raw, str) else None, "'?client='")
    except InvalidRequest:
        return None
    return None if client is None else f"{client.platform}/{client.version}"


def _encoding(event: dict[str, Any]) -> str:
    """The frame encoding of the subprotocol the client asked for (`$connect` answers it, or turns
    the connection away when it offers none this server speaks): it rides on every frame's event."""
    try:
        return encoding_of(negotiate(event.get("headers")))
    except InvalidRequest:
        return "json"


def _context(verified: VerifiedToken) -> dict[str, str]:
    """Who the caller is, and until when (a WebSocket connection may not outlive the token)."""
    return {**verified.caller.as_context(), EXPIRES_AT: str(verified.expires_at)}


def _allow(method_arn: str, verified: VerifiedToken, client: str | None, encoding: str) -> dict[str, Any]:
    context = _context(verified) | ({CLIENT_CONTEXT: client} if client else {}) | {ENCODING_CONTEXT: encoding}
    return {
        "principalId": verified.caller.subject,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": method_arn}],
        },
        "context": context,
    }
