"""Live WebSocket connections: who is connected, and pushing frames to them."""

from __future__ import annotations

import time
from typing import Any, Protocol

from pydantic import BaseModel

from aicore.auth import Caller
from aicore.errors import Unauthorized

CONNECTION_TTL_S = 24 * 3600  # API Gateway closes WebSocket connections after 2 hours anyway


class Connection(BaseModel):
    connection_id: str
    caller: Caller
    connected_at: int


class ConnectionStore(Protocol):
    def put(self, connection: Connection) -> None: ...
    def get(self, connection_id: str) -> Connection | None: ...
    def delete(self, connection_id: str) -> None: ...


def require_connection(store: ConnectionStore, connection_id: str) -> Connection:
    connection = store.get(connection_id)
    if connection is None:
        raise Unauthorized("This connection is not registered: reconnect with a valid token.")
    return connection


def new_connection(connection_id: str, caller: Caller) -> Connection:
    return Connection(connection_id=connection_id, caller=caller, connected_at=int(time.time()))


class ClientPusher(Protocol):
    def send(self, connection_id: str, frame: dict[str, Any]) -> bool:
        """Send one frame; False when the client is gone."""
        ...
