"""Who may do what to a session: roles from the token (player, npc, studio, admin), scoped to a world.

- admin: everything, in every world.
- studio: everything, in its own world.
- npc (the NPC service): everything but suspending, in its own world.
- player: only sessions they take part in, in their own world: read them, speak in them as
  themselves, bring a participant in, leave them, and start new ones they take part in.

A session the caller may not see is answered as missing (its existence is not leaked); a session
they see but may not change this way is answered as forbidden.
"""

from __future__ import annotations

from enum import StrEnum

from aicore.auth import Caller, Role
from aicore.errors import Forbidden, NotFound
from aicore.sessions.models import Participant, ParticipantKind, SessionHead

OPEN_KEY = "open"  # session metadata: any player of the world may join it (`session.join`)


class SessionRight(StrEnum):
    CREATE = "create"
    READ = "read"
    UPDATE_METADATA = "update_metadata"
    ADD_PARTICIPANT = "add_participant"
    REMOVE_PARTICIPANT = "remove_participant"
    APPEND = "append"
    SUSPEND = "suspend"


ALL = frozenset(SessionRight)
ALLOWED: dict[Role, frozenset[SessionRight]] = {
    Role.ADMIN: ALL,
    Role.STUDIO: ALL,
    Role.NPC: ALL - {SessionRight.SUSPEND},
    Role.PLAYER: frozenset(
        {
            SessionRight.CREATE,
            SessionRight.READ,
            SessionRight.APPEND,
            SessionRight.ADD_PARTICIPANT,
            SessionRight.REMOVE_PARTICIPANT,
        }
    ),
}


def can_see(caller: Caller, head: SessionHead) -> bool:
    if caller.has(Role.ADMIN):
        return True
    if head.world_id != caller.world_id:
        return False
    if caller.has(Role.STUDIO) or caller.has(Role.NPC):
        return True
    return caller.has(Role.PLAYER) and head.includes(caller.subject)


def can_read(caller: Caller, head: SessionHead) -> bool:
    return can_see(caller, head)


def hidden(session_id: str) -> NotFound:
    return NotFound(f"Session '{session_id}' does not exist.", {"session_id": session_id})


def _only_as_player(caller: Caller) -> bool:
    """True when the caller's only standing comes from being a player (no service or studio role)."""
    return not any(caller.has(role) for role in (Role.ADMIN, Role.STUDIO, Role.NPC))


def authorize(caller: Caller, operation: SessionRight, head: SessionHead) -> None:
    """Raise NotFound (cannot see it) or Forbidden (may not do this) unless the caller may."""
    if not can_see(caller, head):
        raise hidden(head.session_id)
    if not any(operation in ALLOWED[role] for role in caller.roles):
        raise Forbidden(
            f"Your roles ({', '.join(caller.roles)}) may not {operation.value.replace('_', ' ')} sessions.",
            {"operation": operation.value},
        )


def authorize_create(caller: Caller, head: SessionHead) -> None:
    """A new session: in the caller's world (admin: any), and a player must take part in it."""
    caller.require_world(head.world_id)
    if not any(SessionRight.CREATE in ALLOWED[role] for role in caller.roles):
        raise Forbidden("Your roles may not create sessions.", {"operation": SessionRight.CREATE.value})
    if _only_as_player(caller) and not head.includes(caller.subject):
        raise Forbidden("A player can only start a session they take part in: add yourself as a participant.")


def authorize_speaker(caller: Caller, head: SessionHead, speaker: Participant) -> None:
    """Who a message may be attributed to: a participant; a player only ever speaks as themselves."""
    authorize(caller, SessionRight.APPEND, head)
    if speaker not in head.participants:
        raise Forbidden(
            f"'{speaker.id}' ({speaker.kind.value}) is not a participant of this session: add them first.",
            {"speaker": speaker.id},
        )
    if _only_as_player(caller) and (
        speaker.id != caller.subject or speaker.kind is not ParticipantKind.PLAYER
    ):
        raise Forbidden("A player can only speak as themselves.", {"speaker": speaker.id})


def joins_open_session(caller: Caller, head: SessionHead, joining: Participant) -> bool:
    """A player joining, as themselves, a session of their world whose metadata says `"open": true`
    (a group session anyone may join): allowed without being a participant first."""
    return (
        caller.has(Role.PLAYER)
        and head.world_id == caller.world_id
        and head.metadata.get(OPEN_KEY) is True
        and joining == Participant(id=caller.subject, kind=ParticipantKind.PLAYER)
    )


def authorize_removal(caller: Caller, head: SessionHead, participant_id: str) -> None:
    """A player may only take themselves out of a session."""
    authorize(caller, SessionRight.REMOVE_PARTICIPANT, head)
    if _only_as_player(caller) and participant_id != caller.subject:
        raise Forbidden(
            "A player can only remove themselves from a session.", {"participant_id": participant_id}
        )
