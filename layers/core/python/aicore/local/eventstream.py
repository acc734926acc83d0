"""Encoder of AWS event-stream messages (`application/vnd.amazon.eventstream`).

botocore only decodes them; the local model server needs to write them. A message is:

    prelude:  total length (u32) | headers length (u32) | CRC32 of those 8 bytes (u32)
    headers:  name length (u8) | name | value type (u8, 7 = string) | value length (u16) | value
    payload
    CRC32 of everything before it (u32)

All integers are big-endian. Only string headers are written: they are all SageMaker sends.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping

CONTENT_TYPE = "application/vnd.amazon.eventstream"

_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")
_STRING_HEADER_TYPE = 7
_MAX_HEADER_NAME_BYTES = 255
_MAX_HEADER_VALUE_BYTES = 32767
_MAX_HEADERS_BYTES = 128 * 1024  # botocore's decoder limits
_MAX_PAYLOAD_BYTES = 24 * 1024 * 1024
_OVERHEAD_BYTES = _PRELUDE.size + 2 * _CRC.size


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message with string `headers` and `payload`."""
    encoded_headers = b"".join(_encode_header(name, value) for name, value in headers.items())
    if len(encoded_headers) > _MAX_HEADERS_BYTES:
        raise ValueError(f"headers take {len(encoded_headers)} bytes; the limit is {_MAX_HEADERS_BYTES}")
    if len(payload) > _MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload takes {len(payload)} bytes; the limit is {_MAX_PAYLOAD_BYTES}")
    total_length = _OVERHEAD_BYTES + len(encoded_headers) + len(payload)
    prelude = _PRELUDE.pack(total_length, len(encoded_headers))
    message = prelude + _CRC.pack(zlib.crc32(prelude)) + encoded_headers + payload
    return message + _CRC.pack(zlib.crc32(message))


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


def _encode_header(name: str, value: str) -> bytes:
    name_bytes = name.encode()
    value_bytes = value.encode()
    if not 0 < len(name_bytes) <= _MAX_HEADER_NAME_BYTES:
        raise ValueError(f"header name {name!r} must take 1 to {_MAX_HEADER_NAME_BYTES} bytes")
    if len(value_bytes) > _MAX_HEADER_VALUE_BYTES:
        raise ValueError(f"value of header {name!r} takes more than {_MAX_HEADER_VALUE_BYTES} bytes")
    return (
        struct.pack(">B", len(name_bytes))
        + name_bytes
        + struct.pack(">BH", _STRING_HEADER_TYPE, len(value_bytes))
        + value_bytes
    )
