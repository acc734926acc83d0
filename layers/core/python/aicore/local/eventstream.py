"""The events SageMaker Runtime streams (`InvokeEndpointWithResponseStream`), for the local model server.

Messages are written by the one event-stream encoder, aicore.aws.eventstream.
"""

from __future__ import annotations

from aicore.aws.eventstream import CONTENT_TYPE, encode_message, event_message, exception_message

__all__ = ["CONTENT_TYPE", "encode_message", "exception_event", "payload_part"]


def payload_part(data: bytes) -> bytes:
    """A `PayloadPart` event of `InvokeEndpointWithResponseStream`: a piece of the model's output."""
    return event_message("PayloadPart", data)


def exception_event(exception_type: str, message: str, error_code: str | None = None) -> bytes:
    """An exception event (e.g. `ModelStreamError`): how SageMaker reports a failure mid-stream."""
    body: dict[str, str] = {"Message": message}
    if error_code is not None:
        body["ErrorCode"] = error_code
    return exception_message(exception_type, body)
