"""What the server answers, typed. Every model keeps fields it does not name (`extra="allow"`):
a newer server adds fields without breaking an older client."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Participant(_Data):
    id: str
    kind: str  # "player" | "npc"


class Message(_Data):
    """One line of a session. `session_id` is set on `session.message` frames (resume), not in a
    history page (the page names its session)."""

    seq: int
    speaker: Participant
    text: str
    created_at: str | None = None
    correlation_id: str | None = None
    session_id: str | None = None
    speaker_name: str | None = None  # in a group session: an NPC's name, a player's id


class Reply(_Data):
    """An `npc.reply`: the NPC's whole line, as stored (`seq`), and how it was made."""

    session_id: str
    npc_id: str
    text: str
    seq: int
    tier: str  # "gold" | "silver" | "scripted"
    fallback: bool = False
    fallback_reason: str | None = None
    truncated: bool = False
    truncated_reason: str | None = None
    mode: str | None = None
    timings: dict[str, Any] = Field(default_factory=dict)
    emotion: dict[str, Any] | None = None
    relationship: dict[str, Any] | None = None
    phrases: list[dict[str, Any]] = Field(default_factory=list)
    quest_offer: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    chosen_by: str | None = None  # group sessions: "addressed", or the director's reason


class Transcript(_Data):
    """An `npc.transcript`: what the player said (`npc.listen`), written down; the turn follows."""

    text: str
    ended_by: str  # "final" | "silence"
    audio_ms: int


class HistoryPage(_Data):
    session_id: str
    messages: list[Message]
    next_before: int | None = None  # older messages exist: ask again with before=this


class SessionHead(_Data):
    session_id: str
    participants: list[Participant]
    version: int | None = None
    message_count: int | None = None


class Welcome(_Data):
    resume_token: str
    protocol: str
    capabilities: dict[str, Any] = Field(default_factory=dict)


class Pong(_Data):
    server_time: str


class ResumedSession(_Data):
    session_id: str
    sent: int
    last_seq: int
    next_before: int | None = None


class Resumed(_Data):
    sessions: list[ResumedSession]


class WorldSubscribed(_Data):
    world_id: str
    regions: list[str] | None = None


class WorldUpdate(_Data):
    """A `world.update` push. `kind` says which of the kind's fields are set (weather, fact,
    story_beat: see docs/protocol.md); `event_id` is the same however often a change is pushed."""

    kind: str
    world_id: str
    event_id: str
    occurred_at: str | None = None
    region: str | None = None
    version: int | None = None


class QuestUpdate(_Data):
    """A `quest.update` push: one of the player's quests was offered, accepted, progressed or
    completed (`kind`); the fields of its kind are set (docs/protocol.md). `event_id` is the same
    however often it is pushed."""

    kind: str
    world_id: str
    event_id: str
    quest_id: str
    npc_id: str
    template_id: str
    occurred_at: str | None = None
    title: str | None = None
    expires_at: str | None = None
    objective_id: str | None = None
    done: int | None = None
    count: int | None = None


class ConnectionWarning(_Data):
    """The client works and should be updated (`client_outdated`)."""

    code: str
    message: str
    platform: str | None = None
    recommended: str | None = None
