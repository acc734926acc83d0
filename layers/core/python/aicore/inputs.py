"""What clients send, parsed strictly: JSON bounded in size, depth and encoding; integers from text.

Every error names the problem, never the value: input is not echoed back.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import Field
from pydantic_core import from_json

from aicore.errors import InvalidJson, InvalidRequest, PayloadTooLarge

MAX_JSON_DEPTH = 32  # objects and arrays inside one another; our deepest model needs 4
MAX_SAFE_INT = 2**53 - 1  # the largest integer every JSON reader keeps exact
MAX_INT_DIGITS = len(str(MAX_SAFE_INT))

IDENTIFIER_PATTERN = r"^[A-Za-z0-9_.:\-]+$"
IDENTIFIER_RULE = "1 to 128 ASCII letters, digits, '_', '.', ':' or '-'"
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=IDENTIFIER_PATTERN)]
_IDENTIFIER = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also takes '²', '①', '٣'
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-32LE starts like UTF-16LE


def is_identifier(text: str) -> bool:
    return _IDENTIFIER.fullmatch(text) is not None


def parse_json(data: str | bytes, *, what: str, max_bytes: int) -> Any:
    """`data` as JSON, or a caller error: too large, not UTF-8, not JSON, nested too deep.

    `what` names the input in messages ("The frame", "The body"). Strict JSON: no NaN or
    Infinity, no lone surrogates, no control characters inside strings.
    """
    if _size(data) > max_bytes:
        raise PayloadTooLarge(f"{what} is over the limit of {max_bytes // 1024} KB: send less.")
    data = _utf8(data, what) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    if not data.strip():
        raise InvalidJson(f"{what} is empty: send a JSON object.")
    try:
        value = from_json(data, allow_inf_nan=False)
    except ValueError as exc:
        if "recursion limit" in str(exc):
            raise _too_deep(what) from None
        # jiter's messages say what is wrong and where (line, column), never the text itself
        raise InvalidJson(f"{what} is not valid JSON: {exc}.") from None
    _check_shape(value, what)
    return value


def parse_count(text: str, *, what: str) -> int:
    """A non-negative integer written in ASCII digits (no sign, no spaces), at most 2^53 - 1."""
    if len(text) > MAX_INT_DIGITS or _DIGITS.fullmatch(text) is None:
        raise InvalidRequest(f"{what} must be a whole number written with the digits 0-9.")
    value = int(text)
    if value > MAX_SAFE_INT:
        raise InvalidRequest(f"{what} must be at most {MAX_SAFE_INT}.")
    return value


def _size(data: str | bytes) -> int:
    if isinstance(data, bytes):
        return len(data)
    return len(data.encode("utf-8", "surrogatepass"))


def _utf8(data: bytes, what: str) -> str:
    if data.startswith(_UTF16_BOMS):
        raise InvalidJson(f"{what} is UTF-16: send JSON encoded as UTF-8.")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise InvalidJson(f"{what} is not UTF-8: send JSON encoded as UTF-8.") from None


def _too_deep(what: str) -> InvalidRequest:
    return InvalidRequest(
        f"{what} nests objects and arrays more than {MAX_JSON_DEPTH} levels deep: send a flatter document.",
        {"max_depth": MAX_JSON_DEPTH},
    )


def _check_shape(value: Any, what: str) -> None:
    """Depth within MAX_JSON_DEPTH, and finite numbers only (`1e999` reads as infinity)."""
    if not isinstance(value, dict | list):
        _check_scalar(value, what)
        return
    level: list[Any] = [value]
    depth = 1
    while True:
        below: list[Any] = []
        for node in level:
            for child in node.values() if isinstance(node, dict) else node:
                if isinstance(child, dict | list):
                    below.append(child)
                elif isinstance(child, float) and not math.isfinite(child):
                    _check_scalar(child, what)
        if not below:
            return
        depth += 1
        if depth > MAX_JSON_DEPTH:
            raise _too_deep(what)
        level = below


def _check_scalar(value: Any, what: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidRequest(f"{what} holds a number too large to represent: send a smaller one.")
