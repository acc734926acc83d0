"""Protobuf frames, subprotocol `aicore.proto.v1` (schemas/frames.proto; docs/protocol.md#encodings).

A client frame decodes to the same dict a JSON text frame parses to, and the same pydantic models
validate it (aicore.frames), so both encodings share one envelope and one error table. A server
frame (the dict every sender builds) encodes to a `ServerFrame`. Imported only where a frame is
protobuf: JSON connections never load it. The client's half (encoding client frames, decoding
server frames) is the client library's: aicore_client.protobuf.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2
from google.protobuf.message import DecodeError, Message
from google.protobuf.unknown_fields import UnknownFieldSet

from aicore.errors import InvalidRequest, PayloadTooLarge, UnknownAction
from aicore.frames import KNOWN_ACTIONS, MAX_FRAME_BYTES, PROTO_KEY

try:
    from aicore.schemas import frames_pb2 as pb
except ImportError as missing:  # pragma: no cover - a build without `make protos`
    raise ImportError("aicore.schemas has no generated code: run `make protos`") from missing

# The ClientFrame oneof field of each action: its name with "_" for ".".
ACTION_OF_FIELD: dict[str, str] = {action.replace(".", "_"): action for action in KNOWN_ACTIONS}
# Server frames whose body is their `data` (the others carry the envelope's fields inline).
_DATA_BODIES = {
    "npc.token": "token",
    "world.update": "world_update",
    "connection.warning": "connection_warning",
    "session.message": "session_message",
    "quest.update": "quest_update",
    "npc.audio": "audio",
    "npc.transcript": "transcript",
}
_ENVELOPE_FIELDS = frozenset(pb.Envelope.DESCRIPTOR.fields_by_name)


def decode_client(data: bytes) -> dict[str, Any]:
    """A `ClientFrame`'s action as the dict its JSON frame would be (`{"action", ...fields}`), for
    aicore.frames to validate. Bytes that are not one cleanly are refused with a clear message."""
    if len(data) > MAX_FRAME_BYTES:
        raise PayloadTooLarge(
            f"Frames are limited to {MAX_FRAME_BYTES // 1024} KB; send less per frame.",
            {"limit_bytes": MAX_FRAME_BYTES},
        )
    try:
        frame = pb.ClientFrame.FromString(data)
    except DecodeError as exc:
        raise InvalidRequest(
            "The frame is not a protobuf ClientFrame (schemas/frames.proto): it does not parse."
        ) from exc
    _refuse_unknown_fields(frame, "ClientFrame")
    field = frame.WhichOneof("action")
    action = ACTION_OF_FIELD.get(field or "")
    if field is None or action is None:
        raise UnknownAction(
            "The frame sets no action: set one field of ClientFrame's `action` oneof.",
            {"known_actions": list(KNOWN_ACTIONS)},
        )
    body = getattr(frame, field)
    _refuse_unknown_fields(body, type(body).__name__)
    return {"action": action, **_set_fields(body)}


def unwrap_client(wrapped: Mapping[str, Any]) -> dict[str, Any]:
    """A text frame `{"action": ..., "proto": <base64 of a ClientFrame>}` (how aicore.proto.v1
    clients send: API Gateway refuses binary frames from clients and routes on `action`)."""
    if set(wrapped) != {"action", PROTO_KEY} or not isinstance(wrapped[PROTO_KEY], str):
        raise InvalidRequest(
            f"A protobuf frame is a text frame with exactly 'action' and '{PROTO_KEY}' "
            "(base64 of a ClientFrame)."
        )
    try:
        data = base64.b64decode(wrapped[PROTO_KEY], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(f"The frame's '{PROTO_KEY}' is not base64 (RFC 4648, with padding).") from exc
    frame = decode_client(data)
    if frame["action"] != wrapped["action"]:
        raise InvalidRequest("The frame's 'action' and the action of its protobuf ClientFrame differ.")
    return frame


def encode_server(frame: Mapping[str, Any]) -> bytes:
    """A server frame (`{"type", "request_id", ...}`) as `ServerFrame` bytes. A frame the schema
    cannot carry is our bug, not the client's: ValueError."""
    frame_type = frame["type"]
    message = pb.ServerFrame(type=frame_type)
    if frame.get("request_id") is not None:
        message.request_id = frame["request_id"]
    if frame_type == "npc.token":  # the hot frame: set directly
        message.token.text = frame["data"]["text"]
    elif frame_type == "npc.audio":  # bytes on the wire, base64 in the JSON frame
        _fill(message.audio, {**frame["data"], "audio": base64.b64decode(frame["data"]["audio"])})
    elif frame_type in _DATA_BODIES:
        _fill(getattr(message, _DATA_BODIES[frame_type]), frame["data"])
    else:
        fields = {k: v for k, v in frame.items() if k not in ("type", "request_id")}
        if frame_type == "npc.reply" and fields.get("data") is not None:  # typed: less than half the bytes
            _fill(message.npc_reply, fields.pop("data"))
        if not fields.keys() <= _ENVELOPE_FIELDS:
            raise ValueError(
                f"{frame_type} frame has fields the envelope lacks: {fields.keys() - _ENVELOPE_FIELDS}"
            )
        _fill(message.envelope, fields)
    return message.SerializeToString()


def _refuse_unknown_fields(message: Message, name: str) -> None:
    found = UnknownFieldSet(message)
    unknown = sorted({found[i].field_number for i in range(len(found))})
    if unknown:
        raise InvalidRequest(
            f"The frame's {name} has fields this server does not know (numbers {unknown}): "
            "build the client from this server's schemas/frames.proto.",
            {"unknown_fields": unknown[:10]},
        )


def _set_fields(message: Message) -> dict[str, Any]:
    """The fields a client set, as plain values: a field left at its proto3 default is absent, so
    the pydantic model's default applies, as for a JSON frame without it."""
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        if isinstance(value, str | int | float | bool):
            out[field.name] = value
        elif isinstance(value, bytes):  # as the JSON frame carries it (npc.listen's audio)
            out[field.name] = base64.b64encode(value).decode()
        elif hasattr(value, "items"):
            out[field.name] = dict(value.items())
        else:
            out[field.name] = list(value)
    return out


def _fill(message: Message, values: Mapping[str, Any]) -> None:
    fields = message.DESCRIPTOR.fields_by_name
    for name, value in values.items():
        if value is None:
            continue  # absent and null are one in protobuf
        field = fields.get(name)
        if field is None:
            raise ValueError(f"{message.DESCRIPTOR.name} has no field {name!r}")
        target = getattr(message, name) if field.message_type is not None or field.is_repeated else None
        if target is None:
            setattr(message, name, value)
        elif isinstance(target, struct_pb2.Value):
            _set_value(target, value)
        elif isinstance(target, struct_pb2.Struct) or _is_map(field):
            target.update(value)
        elif field.is_repeated and field.message_type is not None:
            for item in value:
                _fill(target.add(), item)
        elif field.is_repeated:
            target.extend(value)
        else:
            _fill(target, value)


def _is_map(field: Any) -> bool:
    return field.message_type is not None and bool(field.message_type.GetOptions().map_entry)


def _set_value(target: struct_pb2.Value, value: Any) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int | float):
        target.number_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, Mapping):
        target.struct_value.update(value)
    elif isinstance(value, list | tuple):
        target.list_value.extend(value)
    else:
        raise ValueError(f"a frame carries no {type(value).__name__}")
