"""Live connections in DynamoDB, and pushes through the WebSocket API's `@connections` endpoint."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from aicore import aws
from aicore.auth import Caller
from aicore.connections import (
    CONNECTION_TTL_S,
    Connection,
    Encodings,
    PlayerConnection,
    frame_bytes,
    player_key,
)
from aicore.topology import PLAYER_CONNECTIONS_INDEX


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
                "token_expires_at": connection.expires_at,
                "encoding": connection.encoding,
                PLAYER_CONNECTIONS_INDEX.partition_key: player_key(
                    connection.caller.world_id, connection.caller.subject
                ),
                # DynamoDB's TTL deletes lazily (within days): `require_connection` checks expiry itself
                "expires_at": min(connection.expires_at, connection.connected_at + CONNECTION_TTL_S),
            }
        )

    def get(self, connection_id: str) -> Connection | None:
        item = self._table.get_item(Key={"pk": connection_id, "sk": "CONNECTION"}).get("Item")
        if item is None:
            return None
        return Connection(
            connection_id=connection_id,
            caller=Caller.model_validate(item["caller"]),
            connected_at=int(str(item["connected_at"])),
            expires_at=int(str(item.get("token_expires_at", 0))),  # recorded before expiry was: expired
            encoding=str(item.get("encoding", "json")),
        )

    def delete(self, connection_id: str) -> None:
        self._table.delete_item(Key={"pk": connection_id, "sk": "CONNECTION"})

    def of_player(self, world_id: str, player_id: str) -> list[PlayerConnection]:
        """One Query of the `player-connections` index (it projects what a push needs)."""
        items = aws.query_items(
            self._table,
            IndexName=PLAYER_CONNECTIONS_INDEX.name,
            KeyConditionExpression=Key(PLAYER_CONNECTIONS_INDEX.partition_key).eq(
                player_key(world_id, player_id)
            ),
        )
        return [
            PlayerConnection(
                connection_id=str(item["pk"]),
                encoding=str(item.get("encoding", "json")),
                expires_at=int(str(item.get("token_expires_at", 0))),
            )
            for item in items
        ]


class ApiGatewayPusher:
    """Pushes frames through the WebSocket API's @connections management endpoint."""

    def __init__(self, connections_url: str) -> None:
        self._client = aws.connections_client(connections_url)
        self._encodings = Encodings()

    def speaks(self, connection_id: str, encoding: str) -> None:
        self._encodings.remember(connection_id, encoding)

    def send(self, connection_id: str, frame: dict[str, Any]) -> bool:
        data = frame_bytes(frame, self._encodings.of(connection_id))
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "GoneException":
                return False
            raise
        return True

    def close(self, connection_id: str) -> None:
        try:
            self._client.delete_connection(ConnectionId=connection_id)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "GoneException":
                raise
