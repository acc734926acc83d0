"""The one Logger, Tracer and Metrics of aicore, and the one decorator order for handlers."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

from aicore.topology import ENVIRONMENT_DIMENSION, SERVICE

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=SERVICE, service=SERVICE)


def environment_name() -> str:
    """The environment a function runs in (`ENVIRONMENT`, which cdk/ and the local runtime set)."""
    return os.environ.get("ENVIRONMENT", "local")


def metric_dimensions() -> dict[str, str]:
    """Dimensions every custom metric carries besides `service`: two environments never mix."""
    return {ENVIRONMENT_DIMENSION: environment_name()}


metrics.set_default_dimensions(**metric_dimensions())

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
