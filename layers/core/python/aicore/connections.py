"""Live WebSocket connections: who is connected, and pushing frames to them."""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from botocore.exceptions import ClientError
from pydantic import BaseModel

from aicore import aws
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


class DynamoConnectionStore:
    def __init__(self, table_name: str) -> None:
        self._table = aws.table(table_name)

    def put(self, connection: Connection) -> None:
        self._table.put_item(
            Item={
                "pk": connection.connection_id,
                "sk": "CONNECTION",
                "caller": connection.caller.model_dump(mode="json"),
                "connected_at": connection.connected_at,
                "expires_at": connection.connected_at + CONNECTION_TTL_S,
            }
        )

    def get(self, connection_id: str) -> Connection | None:
        item = self._table.get_item(Key={"pk": connection_id, "sk": "CONNECTION"}).get("Item")
        if item is None:
            return None
        return Connection(
            connection_id=connection_id,
            caller=Caller.model_validate(item["caller"]),
            connected_at=int(item["connected_at"]),
        )

    def delete(self, connection_id: str) -> None:
        self._table.delete_item(Key={"pk": connection_id, "sk": "CONNECTION"})


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


class ApiGatewayPusher:
    """Pushes frames through the WebSocket API's @connections management endpoint."""

    def __init__(self, connections_url: str) -> None:
        self._client = aws.client("apigatewaymanagementapi", connections_url)

    def send(self, connection_id: str, frame: dict[str, Any]) -> bool:
        data = json.dumps(frame, separators=(",", ":")).encode()
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "GoneException":
                return False
            raise
        return True
