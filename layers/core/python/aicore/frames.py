"""The WebSocket frame protocol: client frames in, server frames out (see schemas/frames.proto)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, TypeAdapter, model_validator

from aicore.envelope import Envelope
from aicore.errors import AicoreError, InvalidRequest, UnknownAction
from aicore.inputs import MAX_SAFE_INT, Identifier, is_identifier, parse_json
from aicore.sessions.models import ParticipantKind
from aicore.voice.audio import LISTEN_MAX_CHUNKS, Pcm

MAX_FRAME_BYTES = 128 * 1024
RequestId = Identifier  # echoed on every answer to the frame, so held to the identifier rule


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    request_id: RequestId


class NpcSay(_Frame):
    action: Literal["npc.say"]
    # The NPC who answers; in a session (`session_id`) it may be left out: the session's director
    # picks one of its NPCs (aicore.npc.director), and `npc.reply` says who and why (`chosen_by`).
    npc_id: Identifier | None = None
    text: str = Field(min_length=1, max_length=2000)
    session_id: Identifier | None = None
    # Studio and admin tokens only: `npc.reply` then carries `data.context` (what went into the prompt).
    debug: StrictBool = False
    # The reply spoken too: `npc.audio` frames (PCM s16le 16 kHz mono), sentence by sentence.
    voice: StrictBool = False

    @model_validator(mode="after")
    def _someone_answers(self) -> NpcSay:
        if self.npc_id is None and self.session_id is None:
            raise ValueError("name the NPC ('npc_id'), or a session ('session_id') whose director picks one")
        return self


class NpcListen(_Frame):
    """A chunk of the player's speech to an NPC (aicore.voice.listening): the utterance's chunks
    share the `request_id`, which becomes the turn's. Each is answered by `npc.listening`, except the
    one that ends the utterance (`final`, or the silence heard after speech): `npc.transcript`, then
    the turn's frames as for `npc.say` with the transcript as the player's line."""

    action: Literal["npc.listen"]
    npc_id: Identifier | None = None
    session_id: Identifier | None = None
    seq: int = Field(0, ge=0, lt=LISTEN_MAX_CHUNKS, strict=True)  # 0 (the first) when absent, as in protobuf
    audio: Pcm = b""  # PCM s16le, 16 kHz, mono; base64 in JSON; at most 0.5 s (a final one may be empty)
    final: StrictBool = False  # the player stopped talking: transcribe what came so far
    voice: StrictBool = False  # the reply spoken too, as for npc.say

    @model_validator(mode="after")
    def _someone_answers(self) -> NpcListen:
        if self.npc_id is None and self.session_id is None:
            raise ValueError("name the NPC ('npc_id'), or a session ('session_id') whose director picks one")
        return self

    def said(self, text: str) -> NpcSay:
        """The `npc.say` the utterance is, once written down."""
        return NpcSay(
            action="npc.say", request_id=self.request_id, npc_id=self.npc_id, text=text,
            session_id=self.session_id, voice=self.voice,
        )  # fmt: skip


class NpcInterrupt(_Frame):
    """Stop the reply of one of the player's own `npc.say` frames (`target_request_id`: its
    request_id) while it streams: answered with `npc.interrupted`; the turn's `npc.reply` follows
    with what was said, `truncated_reason: "interrupted"`."""

    action: Literal["npc.interrupt"]
    target_request_id: RequestId


class SessionHistory(_Frame):
    action: Literal["session.history"]
    session_id: Identifier
    before: int | None = Field(None, ge=1, le=MAX_SAFE_INT)
    limit: int = Field(50, ge=1, le=200)


class SessionJoin(_Frame):
    action: Literal["session.join"]
    session_id: Identifier
    participant_id: Identifier | None = None  # None: the caller
    kind: ParticipantKind = ParticipantKind.PLAYER


class SessionLeave(_Frame):
    action: Literal["session.leave"]
    session_id: Identifier
    participant_id: Identifier | None = None  # None: the caller


MAX_SCENE_LINES = 6  # a scene is ambience, never a monologue: a hard bound on its model calls
MAX_SCENE_NPCS = 4


class SessionScene(_Frame):
    """NPCs of a session talk among themselves (`npc_ids`, in speaking order) for `lines` lines,
    optionally about `topic`: each line stored and pushed to every participant as `session.message`,
    then answered with `session.scene` (the lines). At most once per `request_id`."""

    action: Literal["session.scene"]
    session_id: Identifier
    npc_ids: list[Identifier] = Field(min_length=2, max_length=MAX_SCENE_NPCS)
    topic: str | None = Field(None, min_length=1, max_length=200)
    lines: StrictInt = Field(4, ge=1, le=MAX_SCENE_LINES)


MAX_SUBSCRIBED_REGIONS = 100


class WorldSubscribe(_Frame):
    """Pushes of the caller's world (`world.update` frames) as it changes: of some regions only, or
    (no `regions`) all of it. Subscribing again replaces the regions."""

    action: Literal["world.subscribe"]
    regions: list[Identifier] | None = Field(None, min_length=1, max_length=MAX_SUBSCRIBED_REGIONS)


class WorldUnsubscribe(_Frame):
    action: Literal["world.unsubscribe"]


class Ping(_Frame):
    """Keep-alive: answered with `pong` (the request id and the server's time)."""

    action: Literal["ping"]


class ConnectionHello(_Frame):
    """The first frame of a connection: answered with `connection.welcome` (a resume token, the
    protocol, the capabilities). `client`: the game's build, e.g. `unity/1.5.0` (informative)."""

    action: Literal["connection.hello"]
    client: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:/+-]+$")


MAX_RESUMED_SESSIONS = 20


class ConnectionResume(_Frame):
    """After a drop: what the player missed in each session since `last_seq` (the newest seq the
    client has of it), as `session.message` frames in order, then `connection.resumed`."""

    action: Literal["connection.resume"]
    resume_token: str = Field(min_length=32, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    last_seq: dict[Identifier, Annotated[StrictInt, Field(ge=0, le=MAX_SAFE_INT)]] = Field(
        default_factory=dict, max_length=MAX_RESUMED_SESSIONS
    )


SessionFrame = SessionHistory | SessionJoin | SessionLeave
WorldFrame = WorldSubscribe | WorldUnsubscribe
ConnectionFrame = Ping | ConnectionHello
ClientFrame = Annotated[
    NpcSay
    | SessionHistory
    | SessionJoin
    | SessionLeave
    | WorldSubscribe
    | WorldUnsubscribe
    | Ping
    | ConnectionHello
    | ConnectionResume
    | NpcInterrupt
    | SessionScene
    | NpcListen,
    Field(discriminator="action"),
]
_client_frame: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
KNOWN_ACTIONS: tuple[str, ...] = (
    "npc.say",
    "session.history",
    "session.join",
    "session.leave",
    "world.subscribe",
    "world.unsubscribe",
    "ping",
    "connection.hello",
    "connection.resume",
    "npc.interrupt",
    "session.scene",
    "npc.listen",
)
# What the server sends (`ServerFrame.type` in schemas/frames.proto), and the protocol versions it speaks.
SERVER_FRAME_TYPES: tuple[str, ...] = (
    "npc.token",
    "npc.reply",
    "session.history",
    "session.joined",
    "session.left",
    "world.subscribed",
    "world.unsubscribed",
    "world.update",
    "connection.warning",
    "pong",
    "connection.welcome",
    "session.message",
    "connection.resumed",
    "npc.interrupted",
    "session.scene",
    "quest.update",
    "npc.audio",
    "npc.listening",
    "npc.transcript",
    "error",
)
PROTOCOL_VERSIONS: tuple[str, ...] = ("1",)
# The WebSocket subprotocols (`Sec-WebSocket-Protocol`) and the frame encoding each speaks
# (docs/protocol.md#encodings). None asked: JSON. `connection.welcome` names the connection's.
JSON_PROTOCOL = "aicore.json.v1"
PROTO_PROTOCOL = "aicore.proto.v1"
PROTOCOL = JSON_PROTOCOL  # the default
SUBPROTOCOLS: dict[str, str] = {JSON_PROTOCOL: "json", PROTO_PROTOCOL: "protobuf"}
FRAME_ENCODINGS: tuple[str, ...] = ("json", "protobuf")
PROTO_KEY = "proto"  # a protobuf client frame: {"action": ..., "proto": <base64 of a ClientFrame>}
SUBPROTOCOL_HEADER = "Sec-WebSocket-Protocol"
ENCODING_CONTEXT = "encoding"  # the authorizer context's key: the connection's frame encoding
F = TypeVar("F", bound=_Frame)


def negotiate(headers: Mapping[str, Any] | None) -> str | None:
    """The subprotocol a connection speaks: the first one the client offers that this server
    speaks; None when it offers none (JSON). Offering only others is refused: a browser would drop
    a connection whose answer names none of its offers."""
    offered = [
        p.strip()
        for name, value in (headers or {}).items()
        if name.lower() == SUBPROTOCOL_HEADER.lower() and isinstance(value, str)
        for p in value.split(",")
        if p.strip()
    ]
    if not offered:
        return None
    for subprotocol in offered:
        if subprotocol in SUBPROTOCOLS:
            return subprotocol
    raise InvalidRequest(f"This server speaks the subprotocols {', '.join(SUBPROTOCOLS)} only.")


def encoding_of(subprotocol: str | None) -> str:
    """The frame encoding of a negotiated subprotocol (None: JSON)."""
    return SUBPROTOCOLS[subprotocol or JSON_PROTOCOL]


def protocol_of(encoding: str) -> str:
    """The subprotocol that speaks an encoding (what `connection.welcome` names)."""
    return PROTO_PROTOCOL if encoding == "protobuf" else JSON_PROTOCOL


def parse_client_frame(body: str | None, *, binary: bool = False) -> ClientFrame:
    """Parse one client frame, raising a domain error a player can act on."""
    raw = _decode_binary(body) if binary else decode_object(body)
    if PROTO_KEY in raw:
        from aicore.wire import unwrap_client  # protobuf is loaded by the frames that need it

        raw = unwrap_client(raw)
    action = raw.get("action")
    if action not in KNOWN_ACTIONS:
        named = "no 'action'" if action is None else "an 'action' nobody handles"
        raise UnknownAction(
            f"The frame has {named}: use one of {', '.join(KNOWN_ACTIONS)}.",
            {"known_actions": list(KNOWN_ACTIONS)},
        )
    return _client_frame.validate_python(raw)


def parse_frame(body: str | None, kind: type[F]) -> F:
    """Parse a frame for a route that handles one action (API Gateway routed it on `action`)."""
    frame = parse_client_frame(body)
    if not isinstance(frame, kind):
        raise UnknownAction(f"This route does not handle {frame.action!r}.", {"action": frame.action})
    return frame


def decode_object(body: str | None) -> dict[str, Any]:
    """A frame's JSON object: bounded in size and depth, strictly parsed."""
    raw = parse_json(body or "", what="The frame", max_bytes=MAX_FRAME_BYTES)
    if not isinstance(raw, dict):
        raise InvalidRequest("A frame must be a JSON object with an 'action'.")
    return raw


def _decode_binary(body: str | None) -> dict[str, Any]:
    """A body flagged `isBase64Encoded`: a protobuf ClientFrame. (API Gateway never sends one: it
    refuses binary frames from clients; docs/protocol.md#encodings.)"""
    from aicore.wire import decode_client

    try:
        data = base64.b64decode(body or "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest("The binary frame could not be read.") from exc
    return decode_client(data)


def request_id_of(body: str | None) -> str | None:
    """The request id of a frame we could not accept, so the client can match the error."""
    try:
        raw = decode_object(body)
        if PROTO_KEY in raw:
            from aicore.wire import unwrap_client

            raw = unwrap_client(raw)
        value = raw.get("request_id")
    except AicoreError:
        return None
    return value if isinstance(value, str) and is_identifier(value) else None


def token_frame(request_id: str, text: str) -> dict[str, Any]:
    return {"type": "npc.token", "request_id": request_id, "data": {"text": text}}


def envelope_frame(frame_type: str, request_id: str | None, envelope: Envelope) -> dict[str, Any]:
    return {"type": frame_type, "request_id": request_id, **envelope.model_dump(mode="json")}


def reply_frame(request_id: str | None, envelope: Envelope, reply_type: str) -> dict[str, Any]:
    """The final frame of a request: the reply type on success, `error` on failure."""
    return envelope_frame(reply_type if envelope.ok else "error", request_id, envelope)
