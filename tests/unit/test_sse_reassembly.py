"""Reading a streamed answer: server-sent events reassembled from payload parts split anywhere."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicore.aws.sagemaker_runtime import text_deltas
from aicore.errors import ModelUnavailable
from aicore.llm.wire import SSE_DONE, SseDecoder, sse_event

ENDPOINT = "aicore-test-gold"


def chunk(text: str | None, role: str | None = None) -> str:
    delta = {key: value for key, value in (("role", role), ("content", text)) if value is not None}
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
    return json.dumps(
        {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]}
    )


def answer_stream(deltas: Iterable[str]) -> bytes:
    events = [chunk(None, role="assistant"), *(chunk(delta) for delta in deltas), SSE_DONE]
    return b"".join(sse_event(event) for event in events)


def split_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted({cut % (len(data) + 1) for cut in cuts}), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


class PayloadParts:
    """What boto3's `response["Body"]` yields for `InvokeEndpointWithResponseStream`."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self._pieces = list(pieces)
        self.closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for piece in self._pieces:
            yield {"PayloadPart": {"Bytes": piece}}

    def close(self) -> None:
        self.closed = True


def feed_all(pieces: Iterable[bytes]) -> list[str]:
    decoder = SseDecoder()
    return [data for piece in pieces for data in decoder.feed(piece)]


@given(
    deltas=st.lists(st.text(min_size=1, max_size=12), max_size=20),
    cuts=st.lists(st.integers(min_value=0), max_size=30),
)
def test_deltas_survive_any_split_of_the_stream(deltas: list[str], cuts: list[int]) -> None:
    parts = PayloadParts(split_at(answer_stream(deltas), cuts))

    assert list(text_deltas(ENDPOINT, parts)) == deltas
    assert parts.closed


def test_every_split_point_of_a_multibyte_answer_decodes() -> None:
    stream = answer_stream(["Grüße, ", "wanderer ", "⚔️🐉"])
    for cut in range(len(stream) + 1):
        assert (
            "".join(text_deltas(ENDPOINT, PayloadParts([stream[:cut], stream[cut:]])))
            == "Grüße, wanderer ⚔️🐉"
        )


def test_decoder_joins_multiline_data_and_skips_comments_and_other_fields() -> None:
    stream = (
        b": keep-alive\r\nevent: message\r\ndata: first\r\ndata: second\r\n\r\nid: 7\n\n\ndata: [DONE]\n\n"
    )

    assert feed_all([stream]) == ["first\nsecond", SSE_DONE]


def test_decoder_holds_an_unfinished_event() -> None:
    decoder = SseDecoder()

    assert decoder.feed(b"data: {}\n") == []
    assert decoder.has_partial_event
    assert decoder.feed(b"\n") == ["{}"]
    assert not decoder.has_partial_event


def test_events_after_done_are_drained_not_yielded() -> None:
    stream = answer_stream(["hi"]) + sse_event(chunk("late"))

    assert list(text_deltas(ENDPOINT, PayloadParts([stream]))) == ["hi"]


def test_events_that_are_not_payload_parts_are_ignored() -> None:
    class WithOtherEvents(PayloadParts):
        def __iter__(self) -> Iterator[dict[str, Any]]:
            yield {"SomethingNew": {}}
            yield from super().__iter__()

    assert list(text_deltas(ENDPOINT, WithOtherEvents([answer_stream(["a", "b"])]))) == ["a", "b"]


def test_a_stream_cut_before_done_is_model_unavailable() -> None:
    stream = answer_stream(["one", "two"])
    cut = stream[: stream.index(SSE_DONE.encode())]
    parts = PayloadParts([cut])
    deltas = text_deltas(ENDPOINT, parts)

    assert next(deltas) == "one"
    assert next(deltas) == "two"
    with pytest.raises(ModelUnavailable, match="before \\[DONE\\]") as failure:
        next(deltas)
    assert failure.value.details == {"endpoint": ENDPOINT, "reason": "StreamCut"}
    assert parts.closed


@pytest.mark.parametrize(
    "bad_event",
    [b"data: {not json\n\n", b'data: {"choices": "many"}\n\n', b"data: \xff\xfe\n\n"],
    ids=["not-json", "wrong-shape", "not-utf8"],
)
def test_a_malformed_event_is_model_unavailable(bad_event: bytes) -> None:
    parts = PayloadParts([bad_event, answer_stream(["never"])])

    with pytest.raises(ModelUnavailable, match=ENDPOINT):
        list(text_deltas(ENDPOINT, parts))
    assert parts.closed


def test_stopping_early_closes_the_stream() -> None:
    parts = PayloadParts([answer_stream(["a", "b", "c"])])
    deltas = text_deltas(ENDPOINT, parts)

    assert next(deltas) == "a"
    deltas.close()

    assert parts.closed
