"""The events SageMaker Runtime streams (`InvokeEndpointWithResponseStream`), for the local model server.

Messages are written by the one event-stream encoder, aicore.aws.eventstream.
"""

from __future__ import annotations

import json

from aicore.aws.eventstream import CONTENT_TYPE, encode_message

__all__ = ["CONTENT_TYPE", "encode_message", "exception_event", "payload_part"]


def payload_part(data: bytes) -> bytes:
    """A `PayloadPart` event of `InvokeEndpointWithResponseStream`: a piece of the model's output."""
    return encode_message(
        {
            ":event-type": "PayloadPart",
            ":message-type": "event",
            ":content-type": "application/octet-stream",
        },
        data,
    )


def exception_event(exception_type: str, message: str, error_code: str | None = None) -> bytes:
    """An exception event (e.g. `ModelStreamError`): how SageMaker reports a failure mid-stream."""
    body: dict[str, str] = {"Message": message}
    if error_code is not None:
        body["ErrorCode"] = error_code
    return encode_message(
        {
            ":exception-type": exception_type,
            ":message-type": "exception",
            ":content-type": "application/json",
        },
        json.dumps(body).encode(),
    )
