"""Live WebSocket connections: who is connected, until when, and pushing frames to them.

A connection lives no longer than the token it was opened with: `$connect` records the token's
expiry, every frame checks it, and the first frame after it is refused and the connection closed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from aicore.auth import Caller, token_expiry
from aicore.clock import Clock, now
from aicore.errors import Unauthorized
from aicore.observability import logger

CONNECTION_TTL_S = 24 * 3600  # API Gateway closes WebSocket connections after 2 hours anyway


class Connection(BaseModel):
    connection_id: str
    caller: Caller
    connected_at: int
    expires_at: int  # the token's `exp`: the connection may not outlive it
    encoding: str = "json"  # its frames' encoding, from the subprotocol negotiated at $connect

    def expired(self, clock: Clock = now) -> bool:
        return clock().timestamp() >= self.expires_at


class ConnectionExpired(Unauthorized):
    """The token a connection was opened with has expired: the client must reconnect."""


class ConnectionStore(Protocol):
    def put(self, connection: Connection) -> None: ...
    def get(self, connection_id: str) -> Connection | None: ...
    def delete(self, connection_id: str) -> None: ...


class PlayerConnection(BaseModel):
    """One live connection of a player, as a push to them needs it (the `player-connections` index)."""

    connection_id: str
    encoding: str = "json"
    expires_at: int  # the token's `exp`: a push to a connection past it is not made

    def expired(self, clock: Clock = now) -> bool:
        return clock().timestamp() >= self.expires_at


class PlayerConnections(Protocol):
    def of_player(self, world_id: str, player_id: str) -> list[PlayerConnection]:
        """Every connection the player holds in the world (one Query), expired ones included."""
        ...


def push_to_player_connection(
    pusher: ClientPusher, connection: PlayerConnection, frame: dict[str, Any]
) -> bool:
    """One frame to one of a player's connections, in its encoding; False when it was not delivered
    (gone, or the push failed: logged, so one broken connection never stops the player's others)."""
    try:
        pusher.speaks(connection.connection_id, connection.encoding)
        return pusher.send(connection.connection_id, frame)
    except Exception:
        logger.exception(
            "A push to a player's connection failed", extra={"connection_id": connection.connection_id}
        )
        return False


def player_key(world_id: str, player_id: str) -> str:
    """A connection's key in the `player-connections` index."""
    return f"{world_id}#{player_id}"


def require_connection(store: ConnectionStore, connection_id: str, clock: Clock = now) -> Connection:
    """The connection's verified caller, while its token is valid, from its record (where an event
    carries no authorizer context; frames use `connected_caller`, which costs no read)."""
    connection = store.get(connection_id)
    if connection is None:
        raise Unauthorized("This connection is not registered: reconnect with a valid token.")
    if connection.expired(clock):
        raise _expired()
    return connection


def connected_caller(authorizer: Mapping[str, Any], clock: Clock = now) -> Caller:
    """Who sent a frame, from the context the `$connect` authorizer gave the connection: API Gateway
    puts it on every event of the connection, so no read is needed. Refused once the token expired."""
    caller = Caller.from_context(dict(authorizer))
    if clock().timestamp() >= token_expiry(dict(authorizer)):
        raise _expired()
    return caller


def _expired() -> ConnectionExpired:
    return ConnectionExpired(
        "Your token has expired, so this connection is closing: reconnect with a fresh token.",
        {"reconnect": True},
    )


def new_connection(
    connection_id: str, caller: Caller, expires_at: int, clock: Clock = now, encoding: str = "json"
) -> Connection:
    return Connection(
        connection_id=connection_id,
        caller=caller,
        connected_at=int(clock().timestamp()),
        expires_at=expires_at,
        encoding=encoding,
    )


class ClientPusher(Protocol):
    def send(self, connection_id: str, frame: dict[str, Any]) -> bool:
        """Send one frame, in the connection's encoding; False when the client is gone."""
        ...

    def speaks(self, connection_id: str, encoding: str) -> None:
        """The connection's frame encoding (fixed at `$connect`), for the frames sent to it."""
        ...

    def close(self, connection_id: str) -> None:
        """Close the connection (its `$disconnect` follows); nothing happens if it is gone."""
        ...


MAX_REMEMBERED_ENCODINGS = 10_000


@dataclass
class Encodings:
    """The frame encoding of each connection a pusher has been told of (bounded: the oldest is
    forgotten first); a connection it was never told of speaks JSON, the default."""

    protobuf: dict[str, None] = field(default_factory=dict)  # insertion-ordered set

    def remember(self, connection_id: str, encoding: str) -> None:
        if encoding != "protobuf":
            self.protobuf.pop(connection_id, None)
            return
        if connection_id not in self.protobuf and len(self.protobuf) >= MAX_REMEMBERED_ENCODINGS:
            self.protobuf.pop(next(iter(self.protobuf)))
        self.protobuf[connection_id] = None

    def of(self, connection_id: str) -> str:
        return "protobuf" if connection_id in self.protobuf else "json"


def frame_bytes(frame: dict[str, Any], encoding: str) -> bytes:
    """A server frame as sent on the wire: compact JSON text, or a protobuf ServerFrame."""
    if encoding == "protobuf":
        from aicore.wire import encode_server  # protobuf loads only where a connection speaks it

        return encode_server(frame)
    return json.dumps(frame, separators=(",", ":")).encode()
