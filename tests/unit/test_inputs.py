"""Strict parsing of client input: JSON bounded in size, depth and encoding; integers in ASCII digits."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicore.errors import AicoreError, InvalidJson, InvalidRequest, PayloadTooLarge
from aicore.inputs import MAX_JSON_DEPTH, MAX_SAFE_INT, is_identifier, parse_count, parse_json

LIMIT = 64 * 1024


def nested(depth: int, opener: str = "[") -> str:
    closer = "]" if opener == "[" else "}"
    return opener * depth + "1" + closer * depth


def parse(data: str | bytes) -> Any:
    return parse_json(data, what="The body", max_bytes=LIMIT)


def test_json_within_bounds_parses() -> None:
    assert parse('{"a": [1, {"b": "c"}]}') == {"a": [1, {"b": "c"}]}
    assert parse(nested(MAX_JSON_DEPTH)) is not None
    assert parse(b'\xef\xbb\xbf{"bom": true}') == {"bom": True}  # RFC 8259 lets a reader skip it


@pytest.mark.parametrize(
    "data", [nested(MAX_JSON_DEPTH + 1), nested(200, '{"a":'), nested(1000), nested(30_000)]
)
def test_json_nested_too_deep_is_refused_with_the_limit(data: str) -> None:
    # 1,000 deep once raised RecursionError: the connection dropped, the Lambda failed
    with pytest.raises(InvalidRequest, match=f"more than {MAX_JSON_DEPTH} levels deep") as refused:
        parse(data)
    assert refused.value.details == {"max_depth": MAX_JSON_DEPTH}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ('{"a": 1}'.encode("utf-16"), "UTF-16"),
        (b"\xff\xfe{\x00}\x00", "UTF-16"),
        ('{"a": 1}'.encode("utf-32"), "UTF-16"),
        ('{"a": "é"}'.encode("latin-1"), "not UTF-8"),
        (b'{"a": "\xc3"}', "not UTF-8"),
    ],
)
def test_bodies_not_in_utf8_say_so(data: bytes, problem: str) -> None:
    with pytest.raises(InvalidJson, match=problem):
        parse(data)


@pytest.mark.parametrize(
    "data",
    ["", "   ", "{not json", "NaN", '{"a": Infinity}', '"\\ud800"', '"\\udc00 lone"', '"a\x01b"', "[1,]"],
)
def test_what_strict_json_does_not_allow_is_invalid_json(data: str) -> None:
    with pytest.raises(InvalidJson):
        parse(data)


def test_numbers_too_large_to_represent_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="too large"):
        parse('{"a": 1e999}')
    with pytest.raises(InvalidJson):
        parse("9" * 5000)


def test_size_is_checked_in_bytes_before_parsing() -> None:
    with pytest.raises(PayloadTooLarge, match="64 KB"):
        parse('"' + "é" * (LIMIT // 2) + '"')  # fewer characters than the limit, more bytes


def test_errors_never_quote_the_input() -> None:
    marker = "<script>alert(1)</script>"
    for data in (marker, f'{{"{marker}": ', f'"{marker}\x01"', f"[{marker}]"):
        with pytest.raises(AicoreError) as refused:
            parse(data)
        assert "script" not in refused.value.message


@given(st.text(max_size=200) | st.binary(max_size=200))
def test_any_input_parses_or_raises_a_caller_error(data: str | bytes) -> None:
    with contextlib.suppress(AicoreError):
        parse(data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@given(JSON)
def test_json_a_client_may_send_reads_back_as_written(value: Any) -> None:
    assert parse(json.dumps(value)) == value


@given(depth=st.integers(1, 3000), opener=st.sampled_from(["[", '{"k":']))
def test_depth_is_bounded_at_any_nesting(depth: int, opener: str) -> None:
    # Given a document nested `depth` levels
    data = nested(depth, opener)
    # Then it parses exactly when within the bound, and never fails otherwise than as a caller error
    if depth <= MAX_JSON_DEPTH:
        assert parse(data) is not None
    else:
        with pytest.raises(InvalidRequest):
            parse(data)


@pytest.mark.parametrize("text", ["0", "7", "0042", str(MAX_SAFE_INT)])
def test_counts_in_ascii_digits_parse(text: str) -> None:
    assert parse_count(text, what="'limit'") == int(text)


@pytest.mark.parametrize(
    "text",
    [
        "²",
        "①",
        "٣",
        "\uff11\uff12",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1.0",
        "1e3",
        "0x10",
        "",
        "9" * 5000,
        str(MAX_SAFE_INT + 1),
    ],
)
def test_anything_else_is_not_a_count(text: str) -> None:
    # str.isdigit() takes '²', '①', '٣' and int() then fails or reads them: a 500 before
    with pytest.raises(InvalidRequest) as refused:
        parse_count(text, what="'limit'")
    assert refused.value.message.startswith("'limit' must be")
    assert refused.value.details == {}


@given(st.text(max_size=40))
def test_parse_count_accepts_exactly_ascii_digits(text: str) -> None:
    ascii_count = text.isascii() and text.isdigit() and int(text) <= MAX_SAFE_INT
    try:
        assert parse_count(text, what="n") == int(text)
        assert ascii_count
    except InvalidRequest:
        assert not ascii_count


@given(st.text(max_size=140))
def test_identifiers_are_short_plain_ascii(text: str) -> None:
    if is_identifier(text):
        assert 1 <= len(text) <= 128
        assert text.isascii()
        assert not any(c in text for c in "<>\"' /\\\n")
