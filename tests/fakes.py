"""Fakes of the adapters' interfaces, for unit tests (fakes over mocks)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from aicore.connections import Connection
from aicore.errors import Conflict, ModelUnavailable, NotFound
from aicore.events import EventDetail
from aicore.models.endpoint import ChatResult
from aicore.models.wire import ChatMessage
from aicore.sessions.models import Message, NewMessage, SessionHead
from aicore.world.models import LoreFact, Npc, NpcMemory


@dataclass
class FakeConnections:
    items: dict[str, Connection] = field(default_factory=dict)

    def put(self, connection: Connection) -> None:
        self.items[connection.connection_id] = connection

    def get(self, connection_id: str) -> Connection | None:
        return self.items.get(connection_id)

    def delete(self, connection_id: str) -> None:
        self.items.pop(connection_id, None)


@dataclass
class FakePusher:
    frames: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)

    def send(self, connection_id: str, frame: dict[str, Any]) -> bool:
        if connection_id in self.gone:
            return False
        self.frames.append((connection_id, frame))
        return True

    def of_type(self, frame_type: str) -> list[dict[str, Any]]:
        return [f for _, f in self.frames if f["type"] == frame_type]


@dataclass
class FakePublisher:
    published: list[tuple[str, str, EventDetail]] = field(default_factory=list)

    def publish(self, source: str, detail_type: str, detail: EventDetail) -> None:
        self.published.append((source, detail_type, detail))


@dataclass
class FakeWorld:
    npcs: dict[tuple[str, str], Npc] = field(default_factory=dict)
    facts: list[LoreFact] = field(default_factory=list)
    memories: dict[tuple[str, str, str], NpcMemory] = field(default_factory=dict)
    lore_reads: int = 0

    def npc_and_memory(
        self, world_id: str, npc_id: str, player_id: str
    ) -> tuple[Npc | None, NpcMemory | None]:
        return self.npcs.get((world_id, npc_id)), self.memories.get((world_id, npc_id, player_id))

    def list_npcs(self, world_id: str) -> list[Npc]:
        return [n for (w, _), n in self.npcs.items() if w == world_id]

    def lore(self, world_id: str) -> list[LoreFact]:
        self.lore_reads += 1
        return [f for f in self.facts if f.world_id == world_id]

    def remember(self, world_id: str, npc_id: str, player_id: str, line: str, at: str) -> NpcMemory:
        key = (world_id, npc_id, player_id)
        old = self.memories.get(key) or NpcMemory(world_id=world_id, npc_id=npc_id, player_id=player_id)
        self.memories[key] = old.model_copy(
            update={"turns": old.turns + 1, "last_player_line": line, "last_seen": at}
        )
        return self.memories[key]

    def put_npc(self, npc: Npc) -> None:
        self.npcs[(npc.world_id, npc.npc_id)] = npc

    def put_lore(self, fact: LoreFact) -> None:
        self.facts.append(fact)


@dataclass
class FakeSessions:
    heads: dict[str, SessionHead] = field(default_factory=dict)
    messages: dict[str, list[Message]] = field(default_factory=dict)
    pairs: dict[str, str] = field(default_factory=dict)

    def create(self, head: SessionHead, pair: str | None = None) -> SessionHead:
        if head.session_id in self.heads or (pair is not None and pair in self.pairs):
            raise Conflict("exists")
        self.heads[head.session_id] = head
        self.messages[head.session_id] = []
        if pair is not None:
            self.pairs[pair] = head.session_id
        return head

    def find_pair(self, pair: str) -> str | None:
        return self.pairs.get(pair)

    def head_and_recent(self, session_id: str, limit: int) -> tuple[SessionHead, list[Message]]:
        if session_id not in self.heads:
            raise NotFound(f"Session '{session_id}' does not exist.")
        return self.heads[session_id], self.messages[session_id][-limit:]

    def append(self, head: SessionHead, new: list[NewMessage]) -> tuple[SessionHead, list[Message]]:
        current = self.heads[head.session_id]
        added = [
            Message(seq=current.message_count + i + 1, speaker=m.speaker, text=m.text)
            for i, m in enumerate(new)
        ]
        self.messages[head.session_id] += added
        self.heads[head.session_id] = current.model_copy(
            update={"message_count": current.message_count + len(new)}
        )
        return self.heads[head.session_id], added


@dataclass
class ScriptedEndpoint:
    """Answers each endpoint with scripted tokens, or fails it (before or after some tokens)."""

    tokens: Sequence[str] = ("Well ", "met, ", "traveller.")
    failing: set[str] = field(default_factory=set)
    cut_after: int | None = None
    calls: list[str] = field(default_factory=list)
    last_messages: Sequence[ChatMessage] = ()

    def stream_chat(
        self,
        endpoint_name: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        timeout_s: float,
    ) -> Iterator[str]:
        self.calls.append(endpoint_name)
        self.last_messages = messages
        if endpoint_name in self.failing:
            raise ModelUnavailable(f"{endpoint_name} is down")
        for i, token in enumerate(self.tokens):
            if self.cut_after is not None and i == self.cut_after:
                raise ModelUnavailable("stream cut")
            yield token

    def chat(
        self,
        endpoint_name: str,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        timeout_s: float,
    ) -> ChatResult:
        return ChatResult("".join(self.tokens), 10, len(self.tokens))
