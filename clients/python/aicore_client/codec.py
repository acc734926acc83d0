"""How frames go on the wire. The client speaks frames as dicts (the JSON shape of
`schemas/frames.proto`); a codec turns them into WebSocket messages and back.

`JsonCodec` sends JSON text frames (the default, no subprotocol asked for). A binary codec (protobuf,
`Sec-WebSocket-Protocol: aicore.proto.v1`) implements the same two methods and names its
subprotocol: the client asks for it at the handshake and refuses a server that did not agree.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

Frame = dict[str, Any]


class Codec(Protocol):
    @property
    def subprotocol(self) -> str | None:
        """What to ask for in `Sec-WebSocket-Protocol`; None: ask for nothing (JSON)."""
        ...

    def encode(self, frame: Frame) -> str | bytes:
        """A client frame as one WebSocket message."""
        ...

    def decode(self, message: str | bytes) -> Frame:
        """One WebSocket message from the server as a frame; ValueError if it is not one."""
        ...


class JsonCodec:
    """JSON text frames: what every aicore server speaks."""

    @property
    def subprotocol(self) -> str | None:
        return None

    def encode(self, frame: Frame) -> str:
        return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)

    def decode(self, message: str | bytes) -> Frame:
        decoded = json.loads(message)
        if not isinstance(decoded, dict):
            raise ValueError("a frame is a JSON object")
        return decoded
