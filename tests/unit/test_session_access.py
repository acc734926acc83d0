"""The RBAC matrix: every role x every session operation x own/other world, through the service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aicore.auth import Caller, Role
from aicore.errors import AicoreError, Forbidden, NotFound
from aicore.sessions.models import Participant, ParticipantKind, SessionHead
from aicore.sessions.service import NewMessages, NewSession, SessionService, SpokenLine
from tests.fakes import FakeColdTier, FakeFlows, FakePublisher, FakeSessions

WORLD = "demo"
PLAYER = Participant(id="p1", kind=ParticipantKind.PLAYER)
NPC = Participant(id="mira", kind=ParticipantKind.NPC)
GUARD = Participant(id="guard", kind=ParticipantKind.NPC)

CALLERS = {
    "player/participant": Caller(subject="p1", world_id=WORLD),
    "player/outsider": Caller(subject="p2", world_id=WORLD),
    "player/other-world": Caller(subject="p1", world_id="elsewhere"),
    "npc/own-world": Caller(subject="npc-service", world_id=WORLD, roles=(Role.NPC,)),
    "npc/other-world": Caller(subject="npc-service", world_id="elsewhere", roles=(Role.NPC,)),
    "studio/own-world": Caller(subject="tools", world_id=WORLD, roles=(Role.STUDIO,)),
    "studio/other-world": Caller(subject="tools", world_id="elsewhere", roles=(Role.STUDIO,)),
    "admin/own-world": Caller(subject="ops", world_id=WORLD, roles=(Role.ADMIN,)),
    "admin/other-world": Caller(subject="ops", world_id="elsewhere", roles=(Role.ADMIN,)),
}

# The session lives in world "demo" with participants p1 (player) and mira (npc).
# ok: allowed; 404: the session is hidden from the caller; 403: seen, but not allowed.
MATRIX = """
caller               create read list metadata join leave append suspend
player/participant   ok     ok   ok   403      ok   ok    ok     403
player/outsider      ok     404  404  404      404  404   404    404
player/other-world   403    404  404  404      404  404   404    404
npc/own-world        ok     ok   ok   ok       ok   ok    ok     403
npc/other-world      403    404  404  404      404  404   404    404
studio/own-world     ok     ok   ok   ok       ok   ok    ok     ok
studio/other-world   403    404  404  404      404  404   404    404
admin/own-world      ok     ok   ok   ok       ok   ok    ok     ok
admin/other-world    ok     ok   ok   ok       ok   ok    ok     ok
"""

Operation = Callable[[SessionService, Caller, str], Any]


def _speaks_as(caller: Caller) -> Participant | None:
    return None if caller.roles == (Role.PLAYER,) else NPC  # a player's own line needs no speaker


def _leaving(caller: Caller) -> str:
    return caller.subject if caller.roles == (Role.PLAYER,) else NPC.id  # players leave themselves


def _create(service: SessionService, caller: Caller, _: str) -> Any:
    me = Participant(id=caller.subject, kind=ParticipantKind.PLAYER)
    participants = [me, NPC] if caller.has(Role.PLAYER) else [NPC]
    return service.create(caller, NewSession(world_id=WORLD, participants=participants))


OPERATIONS: dict[str, Operation] = {
    "create": _create,
    "read": lambda s, c, sid: s.get(c, sid),
    "list": lambda s, c, sid: s.messages(c, sid),
    "metadata": lambda s, c, sid: s.update_metadata(c, sid, 1, {"mood": "wary"}),
    "join": lambda s, c, sid: s.add_participant(c, sid, GUARD),
    "leave": lambda s, c, sid: s.remove_participant(c, sid, _leaving(c)),
    "append": lambda s, c, sid: s.append(
        c, sid, NewMessages(messages=[SpokenLine(speaker=_speaks_as(c), text="Hello there.")])
    ),
    "suspend": lambda s, c, sid: s.suspend(c, sid),
}


def _cases() -> list[tuple[str, str, str]]:
    header, *rows = [line.split() for line in MATRIX.strip().splitlines()]
    operations = header[1:]
    assert set(operations) == set(OPERATIONS), "the matrix names every operation"
    assert {row[0] for row in rows} == set(CALLERS), "the matrix names every caller"
    return [(row[0], op, expected) for row in rows for op, expected in zip(operations, row[1:], strict=True)]


@pytest.mark.parametrize(("caller_name", "operation", "expected"), _cases())
def test_rbac_matrix(caller_name: str, operation: str, expected: str) -> None:
    # Given a session in world "demo" between player p1 and the NPC mira
    sessions = FakeSessions()
    head = sessions.create(SessionHead(world_id=WORLD, participants=[PLAYER, NPC]))
    service = SessionService(sessions, FakeColdTier(sessions), FakePublisher(), FakeFlows())
    run = OPERATIONS[operation]

    # When the caller tries the operation, then it is allowed, hidden or forbidden as the matrix says
    outcome: type[AicoreError] | None = {"ok": None, "404": NotFound, "403": Forbidden}[expected]
    if outcome is None:
        run(service, CALLERS[caller_name], head.session_id)
    else:
        with pytest.raises(outcome):
            run(service, CALLERS[caller_name], head.session_id)
        # And a refused write changed nothing
        assert sessions.heads[head.session_id].version == 1
        assert sessions.messages[head.session_id] == []


def test_a_player_speaks_only_as_themselves() -> None:
    sessions = FakeSessions()
    head = sessions.create(SessionHead(world_id=WORLD, participants=[PLAYER, NPC]))
    service = SessionService(sessions, FakeColdTier(sessions), FakePublisher())
    player = CALLERS["player/participant"]
    for speaker in (NPC, Participant(id="p1", kind=ParticipantKind.NPC)):
        with pytest.raises(Forbidden):
            service.append(
                player, head.session_id, NewMessages(messages=[SpokenLine(speaker=speaker, text="x")])
            )


def test_a_speaker_must_be_a_participant() -> None:
    sessions = FakeSessions()
    head = sessions.create(SessionHead(world_id=WORLD, participants=[PLAYER, NPC]))
    service = SessionService(sessions, FakeColdTier(sessions), FakePublisher())
    with pytest.raises(Forbidden, match="not a participant"):
        service.append(
            CALLERS["studio/own-world"],
            head.session_id,
            NewMessages(messages=[SpokenLine(speaker=GUARD, text="Halt!")]),
        )


def test_a_player_cannot_remove_someone_else() -> None:
    sessions = FakeSessions()
    head = sessions.create(SessionHead(world_id=WORLD, participants=[PLAYER, NPC]))
    service = SessionService(sessions, FakeColdTier(sessions), FakePublisher())
    with pytest.raises(Forbidden):
        service.remove_participant(CALLERS["player/participant"], head.session_id, NPC.id)


def test_a_player_only_starts_sessions_they_take_part_in() -> None:
    sessions = FakeSessions()
    service = SessionService(sessions, FakeColdTier(sessions), FakePublisher())
    with pytest.raises(Forbidden, match="add yourself"):
        service.create(CALLERS["player/participant"], NewSession(participants=[NPC]))
