"""Sessions and their messages."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from aicore.events import utc_now


class ParticipantKind(StrEnum):
    PLAYER = "player"
    NPC = "npc"


class Participant(BaseModel):
    id: str
    kind: ParticipantKind


class Message(BaseModel):
    seq: int = Field(ge=1, description="Position in the session's one total order.")
    speaker: Participant
    text: str
    created_at: str = Field(default_factory=utc_now)
    correlation_id: str | None = None


class NewMessage(BaseModel):
    speaker: Participant
    text: str
    correlation_id: str | None = None


class SessionHead(BaseModel):
    session_id: str = Field(default_factory=lambda: f"ses_{uuid.uuid4().hex}")
    world_id: str
    participants: list[Participant]
    metadata: dict[str, Any] = {}
    version: int = 1
    message_count: int = 0
    tier: str = "hot"
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)

    def includes(self, participant_id: str) -> bool:
        return any(p.id == participant_id for p in self.participants)


class SessionView(BaseModel):
    """What a reader gets: the head and a page of messages, oldest first."""

    session: SessionHead
    messages: list[Message]
