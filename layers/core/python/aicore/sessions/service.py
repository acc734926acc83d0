"""The sessions API's logic: create, read and page, change metadata and participants, append, suspend.

Reads never wait for a tier move: a cold session is answered from its archive object (and its
rehydration is asked for on the bus); a write to a session that is not live brings it back first,
inline, with the rehydrate flow's own steps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, Field, field_validator

from aicore.auth import Caller, Role
from aicore.clock import utc_now
from aicore.errors import Conflict, InvalidRequest, NotFound
from aicore.events import EventPublisher
from aicore.flows import FlowStarter
from aicore.observability import logger
from aicore.sessions.access import (
    SessionRight,
    authorize,
    authorize_create,
    authorize_removal,
    authorize_speaker,
    can_read,
    hidden,
    joins_open_session,
)
from aicore.sessions.archive import ArchivedSession
from aicore.sessions.chunks import newest_before, next_before
from aicore.sessions.events import SessionRehydrationRequested
from aicore.sessions.models import (
    MAX_MESSAGES_PER_APPEND,
    MAX_PARTICIPANTS,
    MAX_TEXT_CHARS,
    AppendResult,
    HeadChanges,
    IdempotencyKey,
    Message,
    MessagePage,
    NewMessage,
    Participant,
    ParticipantKind,
    SessionHead,
    SessionView,
    StorageTier,
)
from aicore.sessions.policy import DEFAULT_PAGE, MAX_PAGE, SessionPolicy
from aicore.sessions.store import SessionNotLive, SessionStore, already_in, pair_session_id, stale_version
from aicore.topology import SESSION_ARCHIVE_FLOW, SESSION_REHYDRATION_REQUESTED, SESSIONS_SOURCE

MAX_METADATA_BYTES = 16 * 1024
T = TypeVar("T")


class ColdTier(Protocol):
    """What the service needs of the cold tier (`aicore.sessions.tiers.Tiering`)."""

    def read_archived(self, head: SessionHead) -> ArchivedSession | None: ...
    def rehydrate_now(self, session_id: str) -> SessionHead: ...


class NewSession(BaseModel):
    world_id: str | None = Field(None, min_length=1, max_length=64)
    participants: list[Participant] = Field(min_length=1, max_length=MAX_PARTICIPANTS)
    metadata: dict[str, Any] = {}

    @field_validator("participants")
    @classmethod
    def _unique(cls, participants: list[Participant]) -> list[Participant]:
        ids = [p.id for p in participants]
        if len(set(ids)) != len(ids):
            raise ValueError("participant ids must be unique")
        return participants


class SpokenLine(BaseModel):
    speaker: Participant | None = None
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    idempotency_key: IdempotencyKey | None = None  # a retry with the same key stores the line once


class NewMessages(BaseModel):
    """An append: one to 25 messages; a player's own lines need no speaker."""

    messages: list[SpokenLine] = Field(min_length=1, max_length=MAX_MESSAGES_PER_APPEND)


@dataclass
class Conversation:
    """A session about to be spoken in, with its newest messages; `new`: not stored yet."""

    head: SessionHead
    messages: list[Message]
    new: bool = False


class SuspendResult(BaseModel):
    session_id: str
    tier: StorageTier
    archiving: bool
    execution_arn: str | None = None


@dataclass
class SessionService:
    store: SessionStore
    cold: ColdTier
    events: EventPublisher
    flows: FlowStarter | None = None
    policy: SessionPolicy = field(default_factory=SessionPolicy)

    # --- create and read --------------------------------------------------------------------------

    def create(self, caller: Caller, request: NewSession) -> SessionHead:
        _check_metadata(request.metadata)
        head = SessionHead(
            world_id=request.world_id or caller.world_id,
            participants=request.participants,
            metadata=request.metadata,
        )
        authorize_create(caller, head)
        return self.store.create(head)

    def get(self, caller: Caller, session_id: str, limit: int = DEFAULT_PAGE) -> SessionView:
        head, recent = self.store.head_and_recent(session_id, _page_size(limit))
        authorize(caller, SessionRight.READ, head)
        if not head.is_live:
            head, recent = self._read(head, None, limit)
        return SessionView(session=head, messages=recent)

    def messages(
        self, caller: Caller, session_id: str, before: int | None = None, limit: int = DEFAULT_PAGE
    ) -> MessagePage:
        if before is not None and before < 1:
            raise InvalidRequest("'before' is a message seq: 1 or more.", {"before": before})
        if before is None:  # the newest page: one query returns it with the head
            view = self.get(caller, session_id, limit)
            return MessagePage(
                session_id=session_id, messages=view.messages, next_before=next_before(view.messages)
            )
        head = self.store.get_head(session_id)
        authorize(caller, SessionRight.READ, head)
        _, page = self._read(head, before, _page_size(limit))
        return MessagePage(session_id=session_id, messages=page, next_before=next_before(page))

    def _read(self, head: SessionHead, before: int | None, limit: int) -> tuple[SessionHead, list[Message]]:
        """A page from wherever the session's words are now, without waiting for a tier move."""
        for _ in range(3):
            if head.is_live:
                return head, self.store.page(head, before, limit)
            if head.tier is StorageTier.ARCHIVING:
                # Items stay until the archive is sealed; if it sealed while we read, read the archive.
                page = self.store.page(head, before, limit)
                current = self.store.get_head(head.session_id)
                if current.tier is not StorageTier.COLD:
                    return current, page
                head = current
                continue
            archived = self.cold.read_archived(head)
            if archived is not None:
                if head.tier is StorageTier.COLD:
                    self._request_rehydration(head)
                upper = head.message_count + 1 if before is None else min(before, head.message_count + 1)
                return head, newest_before([archived.messages], upper, limit)
            head = self.store.get_head(head.session_id)  # it came back meanwhile
        raise SessionNotLive(head)

    def _request_rehydration(self, head: SessionHead) -> None:
        assert head.archive_key is not None
        detail = SessionRehydrationRequested(
            world_id=head.world_id,
            correlation_id=head.session_id,
            session_id=head.session_id,
            archive_key=head.archive_key,
        )
        try:
            self.events.publish(SESSIONS_SOURCE, SESSION_REHYDRATION_REQUESTED, detail)
        except Exception:  # the read is answered anyway; the next read asks again
            logger.exception("Could not ask for rehydration", extra={"session_id": head.session_id})

    # --- write ------------------------------------------------------------------------------------

    def update_metadata(
        self, caller: Caller, session_id: str, expected_version: int, patch: dict[str, Any]
    ) -> SessionHead:
        """JSON merge patch (RFC 7396) of the metadata, if the session is still at `expected_version`."""
        head = self._live_head(caller, SessionRight.UPDATE_METADATA, session_id)
        _check_version(head, expected_version)
        metadata = merge_patch(head.metadata, patch)
        _check_metadata(metadata)
        return self._live(
            session_id,
            lambda: self.store.update_head(session_id, expected_version, HeadChanges(metadata=metadata)),
        )

    def add_participant(
        self, caller: Caller, session_id: str, participant: Participant, expected_version: int | None = None
    ) -> SessionHead:
        """Join: atomic, so joins of different participants never conflict; with `expected_version`
        (If-Match), only if nothing changed since. Joining again as the same kind changes nothing.
        A player joins an open group session (`"open": true` in its metadata) as themselves."""
        head = self.store.get_head(session_id)
        if not joins_open_session(caller, head, participant):
            authorize(caller, SessionRight.ADD_PARTICIPANT, head)
        head = head if head.is_live else self.cold.rehydrate_now(session_id)
        if expected_version is not None:
            _check_version(head, expected_version)
        known = next((p for p in head.participants if p.id == participant.id), None)
        if known == participant:
            return head  # already in, as asked: nothing to write
        if known is not None:
            raise already_in(known)
        return self._live(
            session_id,
            lambda: self.store.add_participant(session_id, participant, expected_version, MAX_PARTICIPANTS),
        )

    def remove_participant(
        self, caller: Caller, session_id: str, participant_id: str, expected_version: int | None = None
    ) -> SessionHead:
        head = self._live_head(caller, SessionRight.REMOVE_PARTICIPANT, session_id)
        authorize_removal(caller, head, participant_id)
        if expected_version is not None:
            _check_version(head, expected_version)
        return self._live(
            session_id, lambda: self.store.remove_participant(session_id, participant_id, expected_version)
        )

    def append(
        self, caller: Caller, session_id: str, request: NewMessages, idempotency_key: str | None = None
    ) -> AppendResult:
        """Append lines; a retry with the same keys (per line, or `idempotency_key` for the whole
        request: line i gets `<key>:<i>`) stores nothing twice and answers with what was stored."""
        head = self.store.get_head(session_id)
        new = [
            NewMessage(
                speaker=line.speaker or _own_voice(caller),
                text=line.text,
                idempotency_key=line.idempotency_key
                or (f"{idempotency_key}:{index}" if idempotency_key else None),
            )
            for index, line in enumerate(request.messages)
        ]
        updated, stored = self.speak(caller, head, new)
        return AppendResult(session_id=session_id, message_count=updated.message_count, messages=stored)

    def speak(
        self, caller: Caller, head: SessionHead, new: list[NewMessage], *, first: bool = False
    ) -> tuple[SessionHead, list[Message]]:
        """Append lines to a session read before (`head`): each speaker checked, a cold session
        brought back first; `first` starts a session not stored yet (a pair's, on its first line).
        Every append goes through here: HTTP, WebSocket and the NPC turn."""
        for message in new:
            authorize_speaker(caller, head, message.speaker)
        if first:
            try:
                return self.store.start(head, new)
            except Conflict:
                head = self.store.get_head(head.session_id)  # another turn started it a moment ago
        return self._live(head.session_id, lambda: self.store.append(head, new))

    def conversation(
        self, caller: Caller, npc_id: str, session_id: str | None, context_messages: int
    ) -> Conversation:
        """The session a player's line to an NPC goes into (the one named, or the pair's own), with
        its newest `context_messages`: one read. A cold one is brought back, as it is about to be
        written; the pair's own, if it does not exist yet, starts with the first line (`speak`)."""
        pair = session_id is None
        session_id = session_id or pair_session_id(caller.world_id, caller.subject, npc_id)
        try:
            head, messages = self.store.head_and_recent(session_id, context_messages)
        except NotFound:
            if not pair:
                raise
            return Conversation(self._pair_head(caller, npc_id, session_id), [], new=True)
        conversation = self._readable(caller, head, messages, context_messages)
        if not conversation.head.includes(npc_id):
            raise NotFound(f"NPC '{npc_id}' is not in session '{session_id}'.", {"session_id": session_id})
        return conversation

    def session_conversation(self, caller: Caller, session_id: str, context_messages: int) -> Conversation:
        """A stored session the caller may read, with its newest `context_messages` (one read; a
        cold one is brought back, as it is about to be written)."""
        head, messages = self.store.head_and_recent(session_id, context_messages)
        return self._readable(caller, head, messages, context_messages)

    def _readable(
        self, caller: Caller, head: SessionHead, messages: list[Message], context_messages: int
    ) -> Conversation:
        session_id = head.session_id
        if not can_read(caller, head):
            raise hidden(session_id)
        if not head.is_live:
            self.cold.rehydrate_now(session_id)
            head, messages = self.store.head_and_recent(session_id, context_messages)
        return Conversation(head, messages)

    @staticmethod
    def _pair_head(caller: Caller, npc_id: str, session_id: str) -> SessionHead:
        return SessionHead(
            session_id=session_id,
            world_id=caller.world_id,
            participants=[
                Participant(id=caller.subject, kind=ParticipantKind.PLAYER),
                Participant(id=npc_id, kind=ParticipantKind.NPC),
            ],
            metadata={"kind": "player-npc"},
        )

    def suspend(self, caller: Caller, session_id: str) -> SuspendResult:
        """Make a session dormant now: the archive flow moves it to S3 (one flow a minute at most)."""
        head = self.store.get_head(session_id)
        authorize(caller, SessionRight.SUSPEND, head)
        if not head.is_live:
            return SuspendResult(
                session_id=session_id, tier=head.tier, archiving=head.tier is StorageTier.ARCHIVING
            )
        if self.flows is None:
            raise RuntimeError("this function cannot start the archive flow: it does not declare it")
        minute = "".join(c for c in utc_now()[:16] if c.isdigit())
        flow = self.flows.start(
            SESSION_ARCHIVE_FLOW,
            f"{session_id}-suspend-{minute}",
            {"session_id": session_id, "active_before": None, "reason": "suspended"},
        )
        return SuspendResult(
            session_id=session_id, tier=head.tier, archiving=True, execution_arn=flow.execution_arn
        )

    def _live_head(self, caller: Caller, operation: SessionRight, session_id: str) -> SessionHead:
        head = self.store.get_head(session_id)
        authorize(caller, operation, head)
        return head if head.is_live else self.cold.rehydrate_now(session_id)

    def _live(self, session_id: str, write: Callable[[], T]) -> T:
        """Run a write; if the session is not live, bring it back and run it once more."""
        try:
            return write()
        except SessionNotLive:
            self.cold.rehydrate_now(session_id)
            return write()


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7396: keys in `patch` replace those in `target`; null removes; objects merge recursively."""
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_patch(merged[key], value)
        else:
            merged[key] = value
    return merged


def _check_version(head: SessionHead, expected_version: int) -> None:
    if head.version != expected_version:
        raise stale_version(head.session_id, head.version, expected_version)


def _check_metadata(metadata: dict[str, Any]) -> None:
    if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise InvalidRequest(f"Session metadata is limited to {MAX_METADATA_BYTES // 1024} KB of JSON.")


def _page_size(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"'limit' must be between 1 and {MAX_PAGE}.", {"limit": limit})
    return limit


def _own_voice(caller: Caller) -> Participant:
    """A line without a speaker is the calling player's own; services must say who speaks."""
    if not caller.has(Role.PLAYER):
        raise InvalidRequest("Each message needs a 'speaker' (a participant of the session).")
    return Participant(id=caller.subject, kind=ParticipantKind.PLAYER)
