"""The unauthenticated HTTP routes: logins (guest, exchange), refresh (rotating), logout; the JWKS;
status (details only for an admin's token, which is verified here: the route has no authorizer).

Every route is throttled on its own in cdk. Tokens are answered with `no-store`; the JWKS is the
envelope with the JWKS's own `keys` beside it at the top level, so that standard JWKS clients
(OIDC libraries, API Gateway's JWT authorizers) read it as they read any JWKS.
"""

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.auth import Caller, bearer_token
from aicore.envelope import operation
from aicore.http import ClientPolicies, correlation_id, envelope_route, json_body, resolver, serve
from aicore.identity import service
from aicore.identity.keyring import PublishedKeysCache
from aicore.identity.service import Exchange, GuestLogin, IdentityDeps, RefreshRequest, SignedOut, Tokens
from aicore.identity.tokens import TokenVerifier
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.settings import get_settings
from aicore.status import Health, status

app = resolver()
NO_STORE = {"Cache-Control": "no-store"}
# A key is published a whole rotation period (7 days) before it signs: a JWKS cached this long
# never misses a key that signs.
JWKS_CACHE_CONTROL = "public, max-age=900"


def _deps() -> IdentityDeps:
    deps: IdentityDeps = app.context["deps"]
    return deps


@app.post("/auth/guest")
@envelope_route(app, "identity.guest", headers=NO_STORE)
def guest() -> Tokens:
    return service.guest_login(_deps(), json_body(app, GuestLogin))


@app.post("/auth/exchange")
@envelope_route(app, "identity.exchange", headers=NO_STORE)
def exchange() -> Tokens:
    return service.exchange(_deps(), json_body(app, Exchange))


@app.post("/auth/refresh")
@envelope_route(app, "identity.refresh", headers=NO_STORE)
def refresh() -> Tokens:
    return service.refresh(_deps(), json_body(app, RefreshRequest))


@app.post("/auth/logout")
@envelope_route(app, "identity.logout", headers=NO_STORE)
def logout() -> SignedOut:
    return service.logout(_deps(), json_body(app, RefreshRequest))


@app.get("/.well-known/jwks.json")
def jwks() -> Response[str]:
    published: PublishedKeysCache = app.context["published"]
    with operation("identity.jwks", correlation_id(app)) as op:
        op.succeed(published.jwks())
    assert op.envelope is not None
    body = op.envelope.model_dump(mode="json")
    if op.envelope.ok:
        body["keys"] = op.envelope.data["keys"]
    return Response(
        status_code=op.status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")),
        headers={"Cache-Control": JWKS_CACHE_CONTROL if op.envelope.ok else "no-store"},
    )


@app.get("/status")
@envelope_route(app, "status", headers=NO_STORE, any_client=True)
def get_status() -> dict[str, Any]:
    """`{ok, version}`, and `details` for an admin."""
    found = status(app.context["version"], _caller(), app.context["health"])
    return found.model_dump(mode="json", exclude_none=True)


def _caller() -> Caller | None:
    authorization = (app.current_event.headers or {}).get("authorization")
    if authorization is None:
        return None
    verifier: TokenVerifier = app.context["verifier"]
    return verifier.verify(bearer_token(authorization))


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    deps: IdentityDeps | None = None,
    published: PublishedKeysCache | None = None,
    verifier: TokenVerifier | None = None,
    health: Health | None = None,
    version: str | None = None,
    clients: ClientPolicies | None = None,
) -> dict[str, Any]:
    app.append_context(  # type: ignore[no-untyped-call]
        deps=deps or wiring.identity_deps(),
        published=published or wiring.published_keys(),
        verifier=verifier or wiring.token_verifier(),
        health=health or wiring.health(),
        version=version or get_settings().service_version,
    )
    return serve(app, event, context, clients=clients or wiring.client_policy)
