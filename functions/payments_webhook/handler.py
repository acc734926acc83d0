"""The payment provider's webhook (Stripe's format): no authorizer, the signature is the credential.

The raw body is what was signed, so it is read as sent (never re-serialized). Each provider event is
applied once: a delivery again answers 200 with `duplicate: true` and changes nothing.
"""

import base64
import binascii
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.commerce import service
from aicore.commerce.models import WebhookAnswer
from aicore.commerce.service import PaymentsDeps
from aicore.errors import InvalidRequest, PayloadTooLarge
from aicore.http import envelope_route, resolver, serve
from aicore.observability import CORRELATION_ID_PATH, entrypoint

app = resolver()


@app.post("/payments/webhook")
@envelope_route(app, "payments.webhook")
def webhook() -> WebhookAnswer:
    deps: PaymentsDeps = app.context["deps"]
    signature = (app.current_event.headers or {}).get("stripe-signature")
    return service.receive(deps, _raw_body(), signature)


def _raw_body() -> bytes:
    body = app.current_event.body or ""
    if len(body) > 2 * service.MAX_BODY_BYTES:
        raise PayloadTooLarge(f"The event is larger than {service.MAX_BODY_BYTES} bytes.")
    if not app.current_event.is_base64_encoded:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        raise InvalidRequest("The body could not be read.") from None


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any], context: LambdaContext, deps: PaymentsDeps | None = None
) -> dict[str, Any]:
    app.append_context(deps=deps or wiring.payments_deps())  # type: ignore[no-untyped-call]
    return serve(app, event, context, clients=None)  # the payment provider calls it, not a game client
