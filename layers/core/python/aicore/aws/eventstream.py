"""AWS event-stream messages (`application/vnd.amazon.eventstream`): written here, read by botocore.

Transcribe streaming's WebSocket API and SageMaker's response streams both speak it. botocore
only decodes it; the Transcribe adapter and the local servers need to write it too. A message is:

    prelude:  total length (u32) | headers length (u32) | CRC32 of those 8 bytes (u32)
    headers:  name length (u8) | name | value type (u8, 7 = string) | value length (u16) | value
    payload
    CRC32 of everything before it (u32)

All integers are big-endian. Only string headers are written: they are all either service needs.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping

from botocore.eventstream import EventStreamBuffer, EventStreamMessage, ParserError

CONTENT_TYPE = "application/vnd.amazon.eventstream"

_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")
_STRING_HEADER_TYPE = 7
_MAX_HEADER_NAME_BYTES = 255
_MAX_HEADER_VALUE_BYTES = 32767
_MAX_HEADERS_BYTES = 128 * 1024  # botocore's decoder limits
_MAX_PAYLOAD_BYTES = 24 * 1024 * 1024
_OVERHEAD_BYTES = _PRELUDE.size + 2 * _CRC.size


class IncompleteMessage(ParserError):  # type: ignore[misc]  # botocore is untyped
    """A WebSocket frame that does not hold exactly one whole event-stream message."""


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


def event_message(event_type: str, payload: bytes, content_type: str = "application/octet-stream") -> bytes:
    """An `event` message: `AudioEvent`, `TranscriptEvent`, SageMaker's `PayloadPart`."""
    headers = {":message-type": "event", ":event-type": event_type, ":content-type": content_type}
    return encode_message(headers, payload)


def exception_message(exception_type: str, body: Mapping[str, str]) -> bytes:
    """An `exception` message (`BadRequestException`, `ModelStreamError`): its JSON body says why."""
    headers = {
        ":message-type": "exception",
        ":exception-type": exception_type,
        ":content-type": "application/json",
    }
    return encode_message(headers, json.dumps(body).encode())


def decode_message(frame: bytes) -> EventStreamMessage:
    """The one message a WebSocket frame carries (Transcribe sends one per frame), checksums checked.

    Raises botocore's `ParserError` (a subclass of it when the frame holds less or more than one
    whole message) when the bytes are not a valid message.
    """
    buffer = EventStreamBuffer()
    buffer.add_data(frame)
    messages = list(buffer)
    if len(messages) != 1 or sum(message.prelude.total_length for message in messages) != len(frame):
        raise IncompleteMessage(f"a frame of {len(frame)} bytes holds {len(messages)} whole messages, not 1")
    return messages[0]


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
