"""The one Logger, Tracer and Metrics of aicore, and the one decorator order for handlers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar, cast, overload

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_xray_sdk import global_sdk_config
from aws_xray_sdk.core import xray_recorder  # the recorder Powertools' Tracer uses

from aicore.topology import ENVIRONMENT_DIMENSION, SERVICE

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE, patch_modules=["botocore"])  # AWS calls only: patching every
# library X-Ray knows imports requests, sqlite3 and more into every cold start
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
HTTP_OR_EVENT_CORRELATION_ID_PATH = f"{CORRELATION_ID_PATH} || {EVENT_CORRELATION_ID_PATH}"  # both


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


_PARALLEL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="parallel-read")
A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
D = TypeVar("D")
E = TypeVar("E")


@overload
def in_parallel(a: Callable[[], A], b: Callable[[], B], /) -> tuple[A, B]: ...


@overload
def in_parallel(a: Callable[[], A], b: Callable[[], B], c: Callable[[], C], /) -> tuple[A, B, C]: ...


@overload
def in_parallel(
    a: Callable[[], A], b: Callable[[], B], c: Callable[[], C], d: Callable[[], D], /
) -> tuple[A, B, C, D]: ...


@overload
def in_parallel(
    a: Callable[[], A], b: Callable[[], B], c: Callable[[], C], d: Callable[[], D], e: Callable[[], E], /
) -> tuple[A, B, C, D, E]: ...


def in_parallel(first: Callable[[], Any], *others: Callable[[], Any]) -> tuple[Any, ...]:
    """Run independent calls side by side (reads of different tables: one round trip instead of
    several), the first in this thread, each other inside the caller's trace. Results in the order
    given; an error is raised once every call has ended."""
    entity = xray_recorder.get_trace_entity() if global_sdk_config.sdk_enabled() else None

    def traced_call(call: Callable[[], Any]) -> Any:
        if entity is not None:  # X-Ray keeps the current segment per thread
            xray_recorder.set_trace_entity(entity)
        return call()

    futures = [_PARALLEL.submit(traced_call, call) for call in others]
    try:
        result = first()
    finally:
        errors = [f.exception() for f in futures]  # wait for them all, whatever happens here
    for error in errors:
        if error is not None:
            raise error
    return (result, *(f.result() for f in futures))
