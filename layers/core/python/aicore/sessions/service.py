"""Session rules: who may see a session, and finding the conversation between a player and an NPC."""

from __future__ import annotations

from aicore.auth import Caller, Role
from aicore.errors import Conflict, NotFound
from aicore.sessions.models import Participant, ParticipantKind, SessionHead, SessionView
from aicore.sessions.store import SessionStore, pair_key

DEFAULT_PAGE = 50


def can_read(caller: Caller, head: SessionHead) -> bool:
    if caller.has(Role.ADMIN):
        return True
    if head.world_id != caller.world_id:
        return False
    if caller.has(Role.STUDIO) or caller.has(Role.NPC):
        return True
    return head.includes(caller.subject)


def _hidden(session_id: str) -> NotFound:
    # A session the caller may not see is reported as missing: its existence is not leaked.
    return NotFound(f"Session '{session_id}' does not exist.", {"session_id": session_id})


def read_session(
    store: SessionStore, caller: Caller, session_id: str, limit: int = DEFAULT_PAGE
) -> SessionView:
    head, messages = store.head_and_recent(session_id, limit)
    if not can_read(caller, head):
        raise _hidden(session_id)
    return SessionView(session=head, messages=messages)


def conversation_with(
    store: SessionStore, caller: Caller, npc_id: str, session_id: str | None, context_messages: int
) -> SessionView:
    """The session a player's line to an NPC goes into: the one named, or the pair's own."""
    if session_id is not None:
        view = read_session(store, caller, session_id, context_messages)
        if not view.session.includes(npc_id):
            raise NotFound(f"NPC '{npc_id}' is not in session '{session_id}'.", {"session_id": session_id})
        return view
    pair = pair_key(caller.world_id, caller.subject, npc_id)
    existing = store.find_pair(pair)
    if existing is None:
        head = SessionHead(
            world_id=caller.world_id,
            participants=[
                Participant(id=caller.subject, kind=ParticipantKind.PLAYER),
                Participant(id=npc_id, kind=ParticipantKind.NPC),
            ],
            metadata={"kind": "player-npc"},
        )
        try:
            return SessionView(session=store.create(head, pair=pair), messages=[])
        except Conflict:
            existing = store.find_pair(pair)  # another turn created it a moment ago
            if existing is None:
                raise
    head, messages = store.head_and_recent(existing, context_messages)
    return SessionView(session=head, messages=messages)
