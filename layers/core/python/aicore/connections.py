"""Live WebSocket connections: who is connected, until when, and pushing frames to them.

A connection lives no longer than the token it was opened with: `$connect` records the token's
expiry, every frame checks it, and the first frame after it is refused and the connection closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel

from aicore.auth import Caller, token_expiry
from aicore.clock import Clock, now
from aicore.errors import Unauthorized

CONNECTION_TTL_S = 24 * 3600  # API Gateway closes WebSocket connections after 2 hours anyway


class Connection(BaseModel):
    connection_id: str
    caller: Caller
    connected_at: int
    expires_at: int  # the token's `exp`: the connection may not outlive it

    def expired(self, clock: Clock = now) -> bool:
        return clock().timestamp() >= self.expires_at


class ConnectionExpired(Unauthorized):
    """The token a connection was opened with has expired: the client must reconnect."""


class ConnectionStore(Protocol):
    def put(self, connection: Connection) -> None: ...
    def get(self, connection_id: str) -> Connection | None: ...
    def delete(self, connection_id: str) -> None: ...


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


def new_connection(connection_id: str, caller: Caller, expires_at: int, clock: Clock = now) -> Connection:
    return Connection(
        connection_id=connection_id,
        caller=caller,
        connected_at=int(clock().timestamp()),
        expires_at=expires_at,
    )


class ClientPusher(Protocol):
    def send(self, connection_id: str, frame: dict[str, Any]) -> bool:
        """Send one frame; False when the client is gone."""
        ...

    def close(self, connection_id: str) -> None:
        """Close the connection (its `$disconnect` follows); nothing happens if it is gone."""
        ...
