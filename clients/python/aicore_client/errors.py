"""What the client raises: the server's errors (an `error` frame's envelope), typed by code, and
the connection's own failures."""

from __future__ import annotations

from typing import Any


class AicoreError(Exception):
    """The server refused or failed a request: `code` is the envelope's error code (`not_found`,
    `rate_limited`, ...; the table is in docs/protocol.md), `message` says what to do, `details`
    holds the specifics."""

    def __init__(
        self,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}
        self.request_id = request_id
        self.correlation_id = correlation_id


class RateLimited(AicoreError):
    """Over the turn budget: try again after `retry_after_ms`."""

    @property
    def retry_after_ms(self) -> int | None:
        value = self.details.get("retry_after_ms")
        return value if isinstance(value, int) else None


class RequestInProgress(AicoreError):
    """A repeated request whose first run still works (the client retries these itself after a
    reconnect; you see one only for a request id you repeated yourself)."""


class UpgradeRequired(AicoreError):
    """This client version may no longer play: `details.minimum` is the version to update to."""


_BY_CODE: dict[str, type[AicoreError]] = {
    "rate_limited": RateLimited,
    "request_in_progress": RequestInProgress,
    "upgrade_required": UpgradeRequired,
}


def error_from_envelope(frame: dict[str, Any]) -> AicoreError:
    """The exception for an `error` frame (an envelope with `ok: false`)."""
    error = frame.get("error") if isinstance(frame.get("error"), dict) else {}
    assert isinstance(error, dict)
    code = str(error.get("code") or "internal_error")
    details = error.get("details")
    return _BY_CODE.get(code, AicoreError)(
        code,
        str(error.get("message") or "The server gave no message."),
        details if isinstance(details, dict) else {},
        request_id=frame.get("request_id"),
        correlation_id=frame.get("correlation_id"),
    )


class GatewayError(Exception):
    """A frame API Gateway sent itself (`{"message": "Too Many Requests", ...}`, `Internal server
    error`): it names no request of ours, so it cannot fail one; see `Client.gateway_errors`."""

    def __init__(self, message: str, gateway_request_id: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.gateway_request_id = gateway_request_id


class HandshakeRefused(Exception):
    """The server turned the connection away with an HTTP status: 401 (no or bad token), 403,
    426 (this client version is too old or blocked: `GET /capabilities` names the minimum), 400."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the server refused the connection with HTTP {status}")
        self.status = status


class ConnectionLost(Exception):
    """The connection dropped and could not be brought back (or the client was closed): requests
    still waiting fail with this."""
