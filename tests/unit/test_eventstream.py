"""The event-stream encoder, checked by botocore's own decoder and SageMaker Runtime's parser."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from typing import Any

import botocore.session
import pytest
from botocore.eventstream import ChecksumMismatch, EventStream, EventStreamBuffer, EventStreamMessage
from botocore.exceptions import EventStreamError
from botocore.parsers import EventStreamJSONParser
from hypothesis import given
from hypothesis import strategies as st

from aicore.local.eventstream import encode_message, exception_event, payload_part

header_names = st.text(min_size=1, max_size=60)  # at most 4 bytes a character: within 255 bytes
header_values = st.text(max_size=200)


class RawStream:
    """What botocore reads an event stream from: pieces of bytes as they come off the socket."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self._pieces = list(pieces)
        self.closed = False

    def stream(self) -> Iterator[bytes]:
        yield from self._pieces

    def close(self) -> None:
        self.closed = True


def decode(pieces: Iterable[bytes]) -> list[EventStreamMessage]:
    buffer = EventStreamBuffer()
    messages: list[EventStreamMessage] = []
    for piece in pieces:
        buffer.add_data(piece)
        messages.extend(buffer)
    return messages


def split_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted({cut % (len(data) + 1) for cut in cuts}), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


def sagemaker_events(pieces: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """Parsed the way boto3 parses `InvokeEndpointWithResponseStream`'s `Body`."""
    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    body_shape = model.operation_model("InvokeEndpointWithResponseStream").output_shape.members["Body"]
    return iter(
        EventStream(
            RawStream(pieces), body_shape, EventStreamJSONParser(), "InvokeEndpointWithResponseStream"
        )
    )


@given(headers=st.dictionaries(header_names, header_values, max_size=8), payload=st.binary(max_size=2048))
def test_any_message_round_trips_through_botocore(headers: dict[str, str], payload: bytes) -> None:
    [message] = decode([encode_message(headers, payload)])

    assert message.headers == headers
    assert message.payload == payload


@given(
    payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=6),
    cuts=st.lists(st.integers(min_value=0), max_size=10),
)
def test_messages_split_anywhere_are_reassembled(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(payload_part(payload) for payload in payloads)

    messages = decode(split_at(stream, cuts))

    assert [message.payload for message in messages] == payloads


def test_payload_part_is_what_sagemaker_runtime_parses_into_payload_parts() -> None:
    events = list(sagemaker_events([payload_part(b"data: one\n\n"), payload_part(b"data: two\n\n")]))

    assert events == [
        {"PayloadPart": {"Bytes": b"data: one\n\n"}},
        {"PayloadPart": {"Bytes": b"data: two\n\n"}},
    ]


def test_exception_event_raises_model_stream_error_in_boto3() -> None:
    # Given a stream that fails after one part
    pieces = [
        payload_part(b"data: {}\n\n"),
        exception_event("ModelStreamError", "GPU fell over", "ModelError"),
    ]
    events = sagemaker_events(pieces)

    # Then the part arrives, and the failure surfaces as boto3's error for a failed stream
    assert next(events) == {"PayloadPart": {"Bytes": b"data: {}\n\n"}}
    with pytest.raises(EventStreamError) as failure:
        next(events)
    assert failure.value.response["Error"] == {"Code": "ModelStreamError", "Message": "GPU fell over"}


def test_exception_event_carries_its_error_code() -> None:
    [message] = decode([exception_event("ModelStreamError", "boom", "ModelError")])

    assert message.headers[":message-type"] == "exception"
    assert json.loads(message.payload) == {"Message": "boom", "ErrorCode": "ModelError"}


def test_a_corrupted_message_fails_botocore_checksum() -> None:
    message = bytearray(payload_part(b"hello"))
    message[-5] ^= 0xFF  # a payload byte

    with pytest.raises(ChecksumMismatch):
        decode([bytes(message)])


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"": "value"}, "header name"),
        ({"n" * 256: "value"}, "header name"),
        ({"name": "v" * 32768}, "value of header"),
    ],
)
def test_headers_botocore_could_not_read_are_refused(headers: dict[str, str], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        encode_message(headers, b"")
