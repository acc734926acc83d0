"""The one envelope of every HTTP response and reply frame, and the one error table."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from aicore import errors
from aicore.inputs import is_identifier
from aicore.observability import logger
from aicore.topology import SERVICE


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    status: int


# The one error table. An exception takes the code of the nearest class in its hierarchy that is
# listed here, so a new subclass inherits its parent's code; anything else is `internal_error`.
ERRORS: dict[type[errors.AicoreError], ErrorSpec] = {
    errors.InvalidJson: ErrorSpec("invalid_json", 400),
    errors.UnknownAction: ErrorSpec("unknown_action", 400),
    errors.PreconditionRequired: ErrorSpec("precondition_required", 428),
    errors.InvalidRequest: ErrorSpec("invalid_request", 400),
    errors.PayloadTooLarge: ErrorSpec("payload_too_large", 413),
    errors.Unauthorized: ErrorSpec("unauthorized", 401),
    errors.Forbidden: ErrorSpec("forbidden", 403),
    errors.NotFound: ErrorSpec("not_found", 404),
    errors.RequestInProgress: ErrorSpec("request_in_progress", 409),
    errors.Conflict: ErrorSpec("conflict", 409),
    errors.RateLimited: ErrorSpec("rate_limited", 429),
    errors.UpgradeRequired: ErrorSpec("upgrade_required", 426),
    errors.ModelUnavailable: ErrorSpec("model_unavailable", 503),
}
INTERNAL = ErrorSpec("internal_error", 500)
MAX_FIELDS_LISTED = 10  # a body with a thousand wrong fields gets a short answer
MAX_PROBLEM_CHARS = 200


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class Envelope(BaseModel):
    ok: bool
    service: str = SERVICE
    operation: str
    correlation_id: str
    duration_ms: float
    data: Any = None
    error: ErrorBody | None = None


def spec_for(exc: BaseException) -> ErrorSpec:
    """The code and status of an exception: its nearest listed ancestor's, else `internal_error`."""
    for cls in type(exc).__mro__:
        spec = ERRORS.get(cls)
        if spec is not None:
            return spec
    return INTERNAL


def validation_details(exc: ValidationError) -> dict[str, Any]:
    """Which fields are wrong and why (the first few), without echoing the input back: not its
    values, and not field names the caller made up (an unknown key is named `(unknown)`)."""
    problems = exc.errors(include_url=False, include_input=False, include_context=False)
    details: dict[str, Any] = {
        "fields": [
            {"field": _field_path(e["loc"]), "problem": e["msg"][:MAX_PROBLEM_CHARS]}
            for e in problems[:MAX_FIELDS_LISTED]
        ]
    }
    if len(problems) > MAX_FIELDS_LISTED:
        details["more"] = len(problems) - MAX_FIELDS_LISTED
    return details


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts = [
        str(p) if isinstance(p, int) or (len(p) <= 64 and is_identifier(p)) else "(unknown)" for p in loc
    ]
    return ".".join(parts) or "(body)"


def as_domain_error(exc: Exception) -> errors.AicoreError | None:
    if isinstance(exc, errors.AicoreError):
        return exc
    if isinstance(exc, ValidationError):
        fields = validation_details(exc)
        names = ", ".join(dict.fromkeys(f["field"] for f in fields["fields"]))
        more = f" and {fields['more']} more" if "more" in fields else ""
        return errors.InvalidRequest(f"Invalid or missing fields: {names}{more}.", fields)
    return None


@dataclass
class Operation:
    """Times one operation and turns its outcome into an envelope."""

    name: str
    correlation_id: str
    started: float = field(default_factory=time.perf_counter)
    envelope: Envelope | None = None
    status: int = 200
    failure: Exception | None = None  # what `fail` was given

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 3)

    def succeed(self, data: Any, status: int = 200) -> Envelope:
        if isinstance(data, BaseModel):
            data = data.model_dump(mode="json")
        self.status = status
        self.envelope = Envelope(
            ok=True,
            operation=self.name,
            correlation_id=self.correlation_id,
            duration_ms=self.elapsed_ms(),
            data=data,
        )
        return self.envelope

    def fail(self, exc: Exception) -> Envelope:
        self.failure = exc
        domain = as_domain_error(exc)
        if domain is None:
            logger.exception("Unexpected failure", extra={"operation": self.name})
            spec, body = (
                INTERNAL,
                ErrorBody(
                    code=INTERNAL.code,
                    message=f"Something went wrong on our side. Quote correlation id {self.correlation_id}.",
                ),
            )
        else:
            spec = spec_for(domain)
            body = ErrorBody(code=spec.code, message=domain.message, details=domain.details)
            logger.info("Request refused", extra={"operation": self.name, "code": spec.code})
        self.status = spec.status
        self.envelope = Envelope(
            ok=False,
            operation=self.name,
            correlation_id=self.correlation_id,
            duration_ms=self.elapsed_ms(),
            error=body,
        )
        return self.envelope


@contextmanager
def operation(name: str, correlation_id: str) -> Iterator[Operation]:
    """`with operation(...) as op: op.succeed(data)`; any exception becomes `op.fail(exc)`."""
    op = Operation(name, correlation_id)
    try:
        yield op
    except Exception as exc:
        op.fail(exc)


def run(name: str, correlation_id: str, work: Callable[[], Any]) -> Operation:
    with operation(name, correlation_id) as op:
        op.succeed(work())
    return op
