"""Domain exceptions. Each maps to one envelope error code in `aicore.envelope.ERRORS`."""

from __future__ import annotations

from typing import Any


class AicoreError(Exception):
    """A failure the caller can understand and act on."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidRequest(AicoreError):
    """The input is malformed or breaks a rule."""


class InvalidJson(InvalidRequest):
    """A frame or body is not JSON."""


class UnknownAction(InvalidRequest):
    """A WebSocket frame names an action nobody handles."""


class PreconditionRequired(InvalidRequest):
    """A conditional write came without its condition (e.g. PATCH without If-Match)."""


class PayloadTooLarge(AicoreError):
    """A frame or body is larger than the limit."""


class Unauthorized(AicoreError):
    """No valid credentials."""


class Forbidden(AicoreError):
    """Valid credentials, but not allowed to do this."""


class NotFound(AicoreError):
    """The thing asked for does not exist (or the caller may not know it exists)."""


class Conflict(AicoreError):
    """A write lost a race: someone else changed the thing first."""


class RequestInProgress(Conflict):
    """A frame repeated (same `request_id`) while its first run is still working: wait for its answer."""


class RateLimited(AicoreError):
    """The caller spent its budget (turns per minute): `details.retry_after_ms` says when to try again."""


class UpgradeRequired(AicoreError):
    """The client's version is below the minimum of its platform, or blocked: `details.minimum`."""


class ModelUnavailable(AicoreError):
    """No model tier could answer in time."""
