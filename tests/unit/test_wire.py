"""Both encodings of every frame (aicore.wire): the same models, the same errors, the same frames."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicore.envelope import Envelope, ErrorBody
from aicore.errors import AicoreError, InvalidRequest, PayloadTooLarge, UnknownAction
from aicore.frames import (
    KNOWN_ACTIONS,
    MAX_FRAME_BYTES,
    SERVER_FRAME_TYPES,
    NpcListen,
    parse_client_frame,
    reply_frame,
)
from aicore.schemas import frames_pb2 as pb
from aicore.voice.speech import audio_frame
from aicore.wire import decode_client, encode_server
from aicore.ws import serve_frame
from aicore_client.protobuf import ProtobufCodec, decode_server, encode_client, wrap_client
from tests.events import load_event
from tests.fakes import FakePusher

CLIENT_FRAMES: dict[str, dict[str, Any]] = {
    "npc.say": {
        "action": "npc.say",
        "request_id": "r-1",
        "npc_id": "mira",
        "text": "Any rooms tonight? ✓",
        "session_id": "s-1",
        "debug": True,
        "voice": True,
    },
    "session.history": {
        "action": "session.history",
        "request_id": "r-2",
        "session_id": "s-1",
        "before": 90,
        "limit": 20,
    },
    "session.join": {
        "action": "session.join",
        "request_id": "r-3",
        "session_id": "s-1",
        "participant_id": "mira",
        "kind": "npc",
    },
    "session.leave": {"action": "session.leave", "request_id": "r-4", "session_id": "s-1"},
    "world.subscribe": {"action": "world.subscribe", "request_id": "r-5", "regions": ["harbor", "market"]},
    "world.unsubscribe": {"action": "world.unsubscribe", "request_id": "r-6"},
    "ping": {"action": "ping", "request_id": "r-7"},
    "connection.hello": {"action": "connection.hello", "request_id": "r-8", "client": "unity/1.5.0"},
    "connection.resume": {
        "action": "connection.resume",
        "request_id": "r-9",
        "resume_token": "t" * 43,
        "last_seq": {"s-1": 12, "s-2": 0},
    },
    "npc.interrupt": {"action": "npc.interrupt", "request_id": "r-10", "target_request_id": "r-1"},
    "session.scene": {
        "action": "session.scene",
        "request_id": "r-11",
        "session_id": "s-1",
        "npc_ids": ["mira", "borin"],
        "topic": "the storm",
        "lines": 3,
    },
    "npc.listen": {
        "action": "npc.listen",
        "request_id": "r-12",
        "npc_id": "mira",
        "seq": 2,
        "audio": base64.b64encode(bytes(range(256)) * 4).decode(),
        "final": True,
        "voice": True,
    },
}

REPLY = {
    "session_id": "s-1",
    "npc_id": "mira",
    "text": "Rooms? Aye, one left above the kitchen.",
    "tier": "gold",
    "fallback": False,
    "truncated": False,
    "seq": 42,
    "mode": "balanced",
    "timings": {"first_token_ms": 38.5, "model_ms": 412.25, "tokens": 14, "tokens_per_s": 33.9},
    "emotion": {"dominant": "joy", "intensities": {"joy": 0.6, "anger": 0.05}},
    "relationship": {"trust": 12, "affinity": 30, "label": "friendly"},
    "phrases": [{"text": "Vesh tarn", "language": "ashtongue", "proficiency": 0}],
}


def _envelope_frame(frame_type: str, data: Any) -> dict[str, Any]:
    envelope = Envelope(ok=True, operation=frame_type, correlation_id="c-1", duration_ms=12.5, data=data)
    return reply_frame("r-1", envelope, frame_type)


SERVER_FRAMES: dict[str, dict[str, Any]] = {
    "npc.token": {"type": "npc.token", "request_id": "r-1", "data": {"text": " Rooms"}},
    "npc.audio": audio_frame("r-1", 3, bytes(range(256)) * 4),
    "npc.reply": _envelope_frame("npc.reply", REPLY),
    "session.history": _envelope_frame(
        "session.history",
        {
            "session_id": "s-1",
            "next_before": 3,
            "messages": [
                {
                    "seq": 4,
                    "speaker": {"id": "p-1", "kind": "player"},
                    "text": "hi",
                    "created_at": "2026-12-01T07:00:00Z",
                },
            ],
        },
    ),
    "session.joined": _envelope_frame(
        "session.joined", {"session_id": "s-1", "version": 3, "participants": []}
    ),
    "session.left": _envelope_frame("session.left", {"session_id": "s-1", "version": 4}),
    "world.subscribed": _envelope_frame("world.subscribed", {"world_id": "demo", "regions": ["harbor"]}),
    "world.unsubscribed": _envelope_frame("world.unsubscribed", {"world_id": "demo"}),
    "world.update": {
        "type": "world.update",
        "request_id": None,
        "data": {
            "kind": "fact",
            "world_id": "demo",
            "event_id": "e-1",
            "occurred_at": "2026-12-01T07:00:00Z",
            "region": "harbor",
            "version": 7,
            "key": "harbor.gate",
            "value": {"open": False, "guards": 2},
            "previous_version": 6,
        },
    },
    "connection.warning": {
        "type": "connection.warning",
        "request_id": None,
        "data": {
            "code": "client_outdated",
            "message": "Update the game.",
            "platform": "unity",
            "recommended": "1.6.0",
        },
    },
    "pong": _envelope_frame("pong", {"server_time": "2026-12-01T07:00:00Z"}),
    "connection.welcome": _envelope_frame(
        "connection.welcome",
        {"resume_token": "t" * 43, "protocol": "aicore.proto.v1", "capabilities": {"actions": ["ping"]}},
    ),
    "session.message": {
        "type": "session.message",
        "request_id": "r-9",
        "data": {
            "session_id": "s-1",
            "seq": 43,
            "speaker": {"id": "mira", "kind": "npc"},
            "text": "Welcome back.",
            "created_at": "2026-12-01T07:00:00Z",
            "correlation_id": "c-1",
        },
    },
    "connection.resumed": _envelope_frame(
        "connection.resumed", {"sessions": [{"session_id": "s-1", "sent": 1, "last_seq": 43}]}
    ),
    "npc.interrupted": _envelope_frame("npc.interrupted", {"target_request_id": "r-1", "interrupted": True}),
    "npc.listening": _envelope_frame("npc.listening", {"seq": 3, "speech": True, "ended": False}),
    "npc.transcript": {
        "type": "npc.transcript",
        "request_id": "r-1",
        "data": {"text": "what is the weather today", "ended_by": "silence", "audio_ms": 2500},
    },
    "quest.update": {
        "type": "quest.update",
        "request_id": None,
        "data": {
            "kind": "progressed",
            "world_id": "demo",
            "event_id": "quest:q-1:progress:r-1",
            "occurred_at": "2026-12-01T07:00:00Z",
            "quest_id": "q-1",
            "npc_id": "odo",
            "template_id": "t-1",
            "objective_id": "o-1",
            "done": 1,
            "count": 3,
        },
    },
    "session.scene": _envelope_frame(
        "session.scene",
        {
            "session_id": "s-1",
            "topic": "the storm",
            "lines": [{"seq": 5, "npc_id": "mira", "text": "Rain again.", "tier": "gold", "fallback": False}],
            "pushed": 3,
        },
    ),
    "error": reply_frame(
        "r-1",
        Envelope(
            ok=False,
            operation="npc.say",
            correlation_id="c-1",
            duration_ms=1.0,
            error=ErrorBody(code="invalid_request", message="Say something.", details={"field": "text"}),
        ),
        "npc.reply",
    ),
}


def _without_nulls(value: Any) -> Any:
    """A frame as a client reads it: protobuf has no null, an absent field is one."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


@pytest.mark.parametrize("action", KNOWN_ACTIONS)
def test_every_client_frame_reads_the_same_in_both_encodings(action: str) -> None:
    sent = CLIENT_FRAMES[action]  # a new action without a sample (hence without a codec test) fails here

    as_json = parse_client_frame(json.dumps(sent))
    as_protobuf = parse_client_frame(json.dumps(wrap_client(sent)))

    assert as_protobuf == as_json
    assert decode_client(encode_client(sent)) == sent


@pytest.mark.parametrize("frame_type", SERVER_FRAME_TYPES)
def test_every_server_frame_arrives_the_same_in_both_encodings(frame_type: str) -> None:
    frame = SERVER_FRAMES[frame_type]  # a new frame type without a sample fails here
    assert frame["type"] == frame_type

    as_json = json.loads(json.dumps(frame))
    as_protobuf = decode_server(encode_server(frame))

    assert as_protobuf == _without_nulls(as_json)


@pytest.mark.parametrize("frame_type", ["npc.token", "npc.reply", "world.update", "session.message"])
def test_the_frames_sent_most_are_smaller_in_protobuf(frame_type: str) -> None:
    frame = SERVER_FRAMES[frame_type]
    assert len(encode_server(frame)) < len(json.dumps(frame, separators=(",", ":"))) * 0.8


def test_a_frame_the_schema_cannot_carry_is_our_bug_not_the_clients() -> None:
    with pytest.raises(ValueError, match="no field"):
        encode_server({"type": "world.update", "data": {"kind": "weather", "mood": "grim"}})


def _wrapped(data: bytes, action: str = "npc.say") -> str:
    return json.dumps({"action": action, "proto": base64.b64encode(data).decode()})


VALID = encode_client(CLIENT_FRAMES["npc.say"])


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (_wrapped(b"\xff\xff\xff"), InvalidRequest, "does not parse"),
        (_wrapped(VALID[:-3]), InvalidRequest, "does not parse"),  # truncated
        (_wrapped(b""), UnknownAction, "sets no action"),  # an empty oneof
        (_wrapped(b"\xa0\x01\x05"), InvalidRequest, r"numbers \[20\]"),  # a field number we do not know
        (_wrapped(b"\x08\x01"), InvalidRequest, "does not parse|does not know"),  # npc_say as a number
        (_wrapped(VALID, action="ping"), InvalidRequest, "differ"),
        (json.dumps({"action": "npc.say", "proto": "not base64!"}), InvalidRequest, "not base64"),
        (json.dumps({"action": "npc.say", "proto": "", "text": "x"}), InvalidRequest, "exactly"),
        (_wrapped(b"\x0a" + bytes([0x80, 0x80, 0x80, 0x80, 0x01]) + b"x"), InvalidRequest, "does not parse"),
    ],
)
def test_bad_protobuf_frames_get_a_clear_caller_error(
    body: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        parse_client_frame(body)


def test_a_nested_unknown_field_is_refused() -> None:
    # Given an NpcSay carrying a field number the schema does not have (a newer client's)
    body = pb.NpcSay(request_id="r", npc_id="mira", text="hi").SerializeToString() + b"\xf8\x01\x01"
    frame = pb.ClientFrame()
    frame.npc_say.ParseFromString(body)
    with pytest.raises(InvalidRequest, match=r"NpcSay has fields .* \[31\]"):
        parse_client_frame(_wrapped(frame.SerializeToString()))


def test_a_protobuf_frame_too_large_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        decode_client(b"\x00" * (MAX_FRAME_BYTES + 1))


def test_the_protobuf_frame_is_validated_by_the_same_models() -> None:
    # Given a protobuf npc.say with an empty text (proto3: the field is absent)
    sent = {**CLIENT_FRAMES["npc.say"], "text": ""}
    # Then the same validation as JSON refuses it (pydantic: the field is required)
    with pytest.raises(Exception, match="text"):
        parse_client_frame(json.dumps(wrap_client(sent)))


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_random_protobuf_bytes_get_an_error_frame(data: bytes) -> None:
    # Given any bytes in a protobuf text frame, served as a route serves a frame
    pusher = FakePusher()
    event = load_event("ws_message", body=_wrapped(data))

    def work(request: Any) -> Any:
        parse_client_frame(request.body)
        return {}

    # When the route serves it, the Lambda returns normally and the client gets one frame: an
    # error in the envelope (or the reply, for the rare bytes that are a valid frame)
    assert serve_frame(event, pusher, "npc.say", "npc.reply", work) == {"statusCode": 200}
    [(_, frame)] = pusher.frames
    if frame["type"] == "error":
        assert frame["error"]["code"] in {"invalid_request", "unknown_action", "payload_too_large"}
        assert "Traceback" not in frame["error"]["message"]


@given(st.binary(max_size=300))
def test_decoding_any_bytes_either_parses_or_raises_a_caller_error(data: bytes) -> None:
    with contextlib.suppress(AicoreError):
        decode_client(data)


def test_the_client_librarys_codec_speaks_what_the_server_reads_and_sends() -> None:
    codec = ProtobufCodec()
    said = CLIENT_FRAMES["npc.say"]
    reply = SERVER_FRAMES["npc.reply"]

    assert codec.subprotocol == "aicore.proto.v1"
    assert parse_client_frame(codec.encode(said)) == parse_client_frame(json.dumps(said))
    assert codec.decode(encode_server(reply)) == _without_nulls(json.loads(json.dumps(reply)))
    with pytest.raises(ValueError, match="ServerFrame"):
        codec.decode(b"\xff\xff\xff")


def test_a_first_protobuf_listen_chunk_reads_as_its_json_does() -> None:
    # proto3 leaves seq 0 and empty audio off the wire: they read as the JSON frame's defaults
    first = {"action": "npc.listen", "request_id": "r-1", "npc_id": "mira", "seq": 0, "audio": ""}
    first["final"] = True
    as_protobuf = parse_client_frame(json.dumps(wrap_client(first)))
    assert as_protobuf == parse_client_frame(json.dumps(first))
    assert isinstance(as_protobuf, NpcListen)
    assert (as_protobuf.seq, as_protobuf.audio) == (0, b"")
