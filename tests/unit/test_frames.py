import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from aicore.errors import AicoreError, InvalidJson, InvalidRequest, PayloadTooLarge, UnknownAction
from aicore.frames import MAX_FRAME_BYTES, NpcSay, parse_client_frame, request_id_of


def test_npc_say_frame_parses() -> None:
    frame = parse_client_frame(
        json.dumps({"action": "npc.say", "request_id": "r1", "npc_id": "mira", "text": "hi"})
    )
    assert isinstance(frame, NpcSay)
    assert (frame.npc_id, frame.text, frame.session_id) == ("mira", "hi", None)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("not json", InvalidJson),
        ("", InvalidJson),
        ("[1, 2]", InvalidRequest),
        ('{"request_id": "r"}', UnknownAction),
        ('{"action": "npc.dance", "request_id": "r"}', UnknownAction),
    ],
)
def test_unusable_frames_are_refused_with_a_domain_error(body: str, error: type[AicoreError]) -> None:
    with pytest.raises(error):
        parse_client_frame(body)


def test_missing_and_wrong_typed_fields_name_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_client_frame(json.dumps({"action": "npc.say", "request_id": "r", "npc_id": 7}))
    fields = {".".join(map(str, e["loc"])) for e in caught.value.errors()}
    assert {"npc.say.npc_id", "npc.say.text"} <= fields


def test_oversized_frame_is_refused() -> None:
    big = json.dumps({"action": "npc.say", "request_id": "r", "npc_id": "m", "text": "x" * MAX_FRAME_BYTES})
    with pytest.raises(PayloadTooLarge):
        parse_client_frame(big)


def test_a_binary_body_that_is_no_protobuf_frame_is_refused_clearly() -> None:
    with pytest.raises(InvalidRequest, match="protobuf ClientFrame"):
        parse_client_frame("AAEC", binary=True)


@given(st.text(max_size=300))
def test_any_text_either_parses_or_raises_a_caller_error(body: str) -> None:
    # Given any text a client might send, parsing never fails with anything but a caller error.
    with contextlib.suppress(AicoreError, ValidationError):
        parse_client_frame(body)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    )
)
def test_request_id_of_never_raises(value: object) -> None:
    found = request_id_of(json.dumps(value))
    assert found is None or isinstance(found, str)
