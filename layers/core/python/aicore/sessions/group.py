"""Group sessions: several players and NPCs in one conversation, every line pushed to every one.

A session is a group when it has more than one player or more than one NPC. Each line spoken in it
(a player's, an NPC's reply, a scene's) reaches every live connection of every player participant
exactly once as a `session.message` frame, except the connection whose `npc.say` it answers (which
gets its own `npc.token`s and `npc.reply`; a scene's lines go to the asking connection too).

A player's connections are one Query of the `player-connections` index; the players' Queries run
side by side, so the fan-out costs one round trip, then one push per connection and line
(connections side by side, each one's lines in order). Who may join: a participant brings others
in (`session.join` with `participant_id`); any player of the world joins a session whose metadata
says `"open": true` by `session.join` alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aicore.clock import Clock, now
from aicore.connections import ClientPusher, PlayerConnection, PlayerConnections, push_to_player_connection
from aicore.sessions.access import OPEN_KEY
from aicore.sessions.models import Message, ParticipantKind, SessionHead, SessionLine

_WORKERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fan-out")  # Queries, then pushes


def is_group(head: SessionHead) -> bool:
    players = sum(1 for p in head.participants if p.kind is ParticipantKind.PLAYER)
    return players > 1 or len(head.participants) - players > 1


def is_open(head: SessionHead) -> bool:
    return head.metadata.get(OPEN_KEY) is True


def player_ids(head: SessionHead) -> list[str]:
    return [p.id for p in head.participants if p.kind is ParticipantKind.PLAYER]


def line_frame(session_id: str, message: Message, speaker_name: str | None) -> dict[str, Any]:
    """A stored line as the `session.message` frame a participant gets (no request of theirs)."""
    line = SessionLine(session_id=session_id, speaker_name=speaker_name, **message.model_dump())
    return {"type": "session.message", "request_id": None, "data": line.model_dump(mode="json")}


@dataclass(frozen=True)
class Audience:
    """The live connections a group session's lines go to (each once)."""

    session_id: str
    connections: tuple[PlayerConnection, ...]


@dataclass
class GroupFanOut:
    connections: PlayerConnections
    pusher: ClientPusher
    clock: Clock = now

    def audience(self, head: SessionHead, world_id: str, skip_connection: str | None = None) -> Audience:
        """Every live connection of the session's players but `skip_connection`: one Query per
        player, side by side; a connection listed twice is kept once."""
        players = player_ids(head)
        found = list(_WORKERS.map(lambda player: self.connections.of_player(world_id, player), players))
        unique: dict[str, PlayerConnection] = {}
        for connection in (c for per_player in found for c in per_player):
            if connection.connection_id != skip_connection and not connection.expired(self.clock):
                unique.setdefault(connection.connection_id, connection)
        return Audience(head.session_id, tuple(unique.values()))

    def push(self, audience: Audience, messages: Iterable[Message], names: Mapping[str, str]) -> int:
        """Each message to each connection: connections side by side, each one's frames in seq order;
        frames delivered (a connection gone is skipped)."""
        frames = [line_frame(audience.session_id, m, names.get(m.speaker.id)) for m in messages]

        def to(connection: PlayerConnection) -> int:
            return sum(self._send(connection, frame) for frame in frames)

        return sum(_WORKERS.map(to, audience.connections))

    def _send(self, connection: PlayerConnection, frame: dict[str, Any]) -> int:
        return int(push_to_player_connection(self.pusher, connection, frame))
