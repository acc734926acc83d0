"""The one Logger, Tracer and Metrics of aicore, and the one decorator order for handlers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from aicore.topology import SERVICE

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)

Handler = Callable[..., Any]

# Where each kind of event carries the id its log lines are correlated by.
CORRELATION_ID_PATH = "requestContext.requestId"  # API Gateway: HTTP, WebSocket, authorizers
EVENT_CORRELATION_ID_PATH = "detail.correlation_id"  # EventBridge: every aicore event detail


def entrypoint(correlation_id_path: str) -> Callable[[Handler], Handler]:
    """Logging with a correlation id, then metrics, then tracing: the same on every handler."""

    def wrap(handler: Handler) -> Handler:
        traced = tracer.capture_lambda_handler(handler)
        measured = metrics.log_metrics(traced)
        return logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)(
            measured
        )

    return wrap


def event_request_id(event: Mapping[str, Any]) -> str:
    """API Gateway's request id (`requestContext.requestId`) of a raw event; a fresh one if it has none."""
    context = event.get("requestContext")
    found = context.get("requestId") if isinstance(context, Mapping) else None
    return found if isinstance(found, str) and 0 < len(found) <= 128 else str(uuid.uuid4())
