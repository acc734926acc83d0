"""The one Logger, Tracer and Metrics of aicore, and the one decorator order for handlers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

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


Annotation = str | int | float | bool


@contextmanager
def traced(step: str, **annotations: Annotation) -> Iterator[Callable[..., None]]:
    """One step of the work as a subsegment of the function's X-Ray trace (AWS calls inside it are
    subsegments of their own), so a slow request can be read from one trace; yields a function that
    adds annotations found on the way (`annotate(outcome="answered")`). Where tracing is off (tests,
    `aicore local`), the X-Ray SDK hands out a dummy and this costs next to nothing."""
    with tracer.provider.in_subsegment(step) as subsegment:

        def annotate(**found: Annotation) -> None:
            for key, value in found.items():
                subsegment.put_annotation(key, cast(Any, value))  # the SDK types numbers as Number

        annotate(**annotations)
        yield annotate
