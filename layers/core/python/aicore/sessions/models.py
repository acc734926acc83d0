"""Sessions and their messages, the tiers a session lives in, and what the API takes and gives."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aicore.clock import utc_now
from aicore.inputs import Identifier

MAX_TEXT_CHARS = 4000
MAX_MESSAGES_PER_APPEND = 25
MAX_PARTICIPANTS = 64
ParticipantId = Identifier
# A client's key for one message: a retried append with the same key stores the message once.
IdempotencyKey = Identifier


class ParticipantKind(StrEnum):
    PLAYER = "player"
    NPC = "npc"


class Participant(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: ParticipantId
    kind: ParticipantKind


class StorageTier(StrEnum):
    """Where a session's words live.

    hot: every message is its own item in DynamoDB. warm: older messages are compacted into
    compressed chunks beside a rolling summary (still DynamoDB). cold: the whole session is one
    compressed object in S3; the head stays as a tombstone. `archiving` and `rehydrating` are the
    moves between them: writes wait for them, reads do not.
    """

    HOT = "hot"
    WARM = "warm"
    ARCHIVING = "archiving"
    COLD = "cold"
    REHYDRATING = "rehydrating"


LIVE_TIERS = (StorageTier.HOT, StorageTier.WARM)


class Message(BaseModel):
    seq: int = Field(ge=1, description="Position in the session's one total order.")
    speaker: Participant
    text: str
    created_at: str = Field(default_factory=utc_now)
    correlation_id: str | None = None


class SessionLine(Message):
    """A stored line as a `session.message` frame carries it (resume, group fan-out)."""

    session_id: str
    speaker_name: str | None = None  # in a group session: who said it (an NPC's name, a player's id)


class NewMessage(BaseModel):
    speaker: Participant
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    correlation_id: str | None = None
    idempotency_key: IdempotencyKey | None = None


class SessionHead(BaseModel):
    session_id: str = Field(default_factory=lambda: f"ses_{uuid.uuid4().hex}")
    world_id: str
    participants: list[Participant]
    metadata: dict[str, Any] = {}
    version: int = Field(1, description="Bumped by every metadata or participant change.")
    message_count: int = Field(0, description="Sequence numbers handed out so far.")
    tier: StorageTier = StorageTier.HOT
    summary: str = Field("", description="Rolling summary of the messages up to `summary_through`.")
    summary_through: int = 0
    compacted_through: int = Field(0, description="Messages up to this seq live in warm chunks.")
    archive_key: str | None = Field(None, description="The S3 object of a cold session.")
    tier_changed_at: str | None = None
    created_at: str = Field(default_factory=utc_now)
    updated_at: str = Field(default_factory=utc_now)

    def includes(self, participant_id: str) -> bool:
        return any(p.id == participant_id for p in self.participants)

    @property
    def is_live(self) -> bool:
        return self.tier in LIVE_TIERS

    @property
    def live_tier(self) -> StorageTier:
        """The tier a live session is in, from what it holds."""
        return StorageTier.WARM if self.compacted_through > 0 else StorageTier.HOT

    @property
    def hot_count(self) -> int:
        return self.message_count - self.compacted_through


class SessionView(BaseModel):
    """What a reader gets: the head and a page of messages, oldest first."""

    session: SessionHead
    messages: list[Message]


class MessagePage(BaseModel):
    """Messages oldest first; `next_before` asks for the page before this one (None: no more)."""

    session_id: str
    messages: list[Message]
    next_before: int | None


class HeadChanges(BaseModel):
    """A versioned change to a head (participants change one at a time, atomically: see the store)."""

    metadata: dict[str, Any] | None = None


class AppendResult(BaseModel):
    session_id: str
    message_count: int
    messages: list[Message]
