"""The sessions service over fakes: versions, participants, appends, pages, cold reads and writes, suspend."""

from __future__ import annotations

import pytest

from aicore.auth import Caller, Role
from aicore.errors import Conflict, InvalidRequest, NotFound
from aicore.sessions.events import SessionRehydrationRequested
from aicore.sessions.models import Participant, ParticipantKind, SessionHead, StorageTier
from aicore.sessions.service import NewMessages, NewSession, SessionService, SpokenLine
from aicore.topology import SESSION_ARCHIVE_FLOW, SESSION_REHYDRATION_REQUESTED
from tests.fakes import FakeColdTier, FakeFlows, FakePublisher, FakeSessions

PLAYER = Participant(id="p1", kind=ParticipantKind.PLAYER)
NPC = Participant(id="mira", kind=ParticipantKind.NPC)
ME = Caller(subject="p1", world_id="demo")
STUDIO = Caller(subject="tools", world_id="demo", roles=(Role.STUDIO,))


@pytest.fixture
def sessions() -> FakeSessions:
    return FakeSessions()


@pytest.fixture
def cold(sessions: FakeSessions) -> FakeColdTier:
    return FakeColdTier(sessions)


@pytest.fixture
def events() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def flows() -> FakeFlows:
    return FakeFlows()


@pytest.fixture
def service(
    sessions: FakeSessions, cold: FakeColdTier, events: FakePublisher, flows: FakeFlows
) -> SessionService:
    return SessionService(sessions, cold, events, flows)


@pytest.fixture
def session(service: SessionService) -> SessionHead:
    return service.create(ME, NewSession(participants=[PLAYER, NPC], metadata={"place": "inn"}))


def _say(service: SessionService, session: SessionHead, *lines: str) -> None:
    service.append(ME, session.session_id, NewMessages(messages=[SpokenLine(text=t) for t in lines]))


def test_create_defaults_to_the_callers_world_and_refuses_duplicate_participants(
    service: SessionService,
) -> None:
    head = service.create(ME, NewSession(participants=[PLAYER]))
    assert (head.world_id, head.version, head.tier) == ("demo", 1, StorageTier.HOT)
    with pytest.raises(ValueError, match="unique"):
        NewSession(participants=[PLAYER, PLAYER])


def test_metadata_update_needs_the_current_version(service: SessionService, session: SessionHead) -> None:
    # When the studio updates with the version it read
    updated = service.update_metadata(STUDIO, session.session_id, 1, {"mood": "tense"})
    assert updated.version == 2
    assert updated.metadata == {"place": "inn", "mood": "tense"}
    # Then a writer still holding version 1 is refused, told the current version, and changes nothing
    with pytest.raises(Conflict) as refused:
        service.update_metadata(STUDIO, session.session_id, 1, {"mood": "calm"})
    assert refused.value.details["current_version"] == 2
    assert service.get(STUDIO, session.session_id).session.metadata["mood"] == "tense"


def test_join_is_idempotent_and_leave_hides_the_session(
    service: SessionService, session: SessionHead
) -> None:
    guard = Participant(id="guard", kind=ParticipantKind.NPC)
    joined = service.add_participant(ME, session.session_id, guard)
    again = service.add_participant(ME, session.session_id, guard)
    assert joined.version == again.version == 2
    with pytest.raises(Conflict, match="already in the session"):
        service.add_participant(ME, session.session_id, Participant(id="guard", kind=ParticipantKind.PLAYER))
    # A pinned version that is stale is refused
    with pytest.raises(Conflict):
        service.add_participant(STUDIO, session.session_id, Participant(id="x", kind=ParticipantKind.NPC), 1)
    # Once the player leaves, the session is no longer theirs to see
    service.remove_participant(ME, session.session_id, "p1")
    with pytest.raises(NotFound):
        service.get(ME, session.session_id)
    with pytest.raises(NotFound, match="not a participant"):
        service.remove_participant(STUDIO, session.session_id, "p1")


def test_appends_number_messages_in_one_order(service: SessionService, session: SessionHead) -> None:
    _say(service, session, "one", "two")
    _say(service, session, "three")
    page = service.messages(ME, session.session_id)
    assert [(m.seq, m.text, m.speaker) for m in page.messages] == [
        (1, "one", PLAYER),
        (2, "two", PLAYER),
        (3, "three", PLAYER),
    ]
    assert page.next_before is None


def test_services_must_name_the_speaker(service: SessionService, session: SessionHead) -> None:
    with pytest.raises(InvalidRequest, match="speaker"):
        service.append(STUDIO, session.session_id, NewMessages(messages=[SpokenLine(text="hm")]))


def test_paging_walks_back_to_the_first_message(service: SessionService, session: SessionHead) -> None:
    _say(service, session, *[str(i) for i in range(1, 21)])
    seen: list[int] = []
    before: int | None = None
    while True:
        page = service.messages(ME, session.session_id, before, limit=7)
        seen = [m.seq for m in page.messages] + seen
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == list(range(1, 21))


@pytest.mark.parametrize("limit", [0, 201, -1])
def test_page_size_is_bounded(service: SessionService, session: SessionHead, limit: int) -> None:
    with pytest.raises(InvalidRequest, match="limit"):
        service.messages(ME, session.session_id, limit=limit)


def test_before_must_be_a_seq(service: SessionService, session: SessionHead) -> None:
    with pytest.raises(InvalidRequest, match="before"):
        service.messages(ME, session.session_id, before=0)


def test_a_cold_session_is_read_from_its_archive_and_asked_back(
    service: SessionService, session: SessionHead, cold: FakeColdTier, events: FakePublisher
) -> None:
    # Given a session with three lines, archived
    _say(service, session, "a", "b", "c")
    cold.archive(session.session_id)
    # When the player reads it
    view = service.get(ME, session.session_id)
    page = service.messages(ME, session.session_id, before=3, limit=5)
    # Then the words come from the archive, without waiting for it to come back
    assert view.session.tier is StorageTier.COLD
    assert [m.text for m in view.messages] == ["a", "b", "c"]
    assert [m.text for m in page.messages] == ["a", "b"]
    assert cold.rehydrated == []
    # And its rehydration is asked for on the bus
    asked = [(d, e) for _, d, e in events.published]
    assert [d for d, _ in asked] == [SESSION_REHYDRATION_REQUESTED, SESSION_REHYDRATION_REQUESTED]
    assert all(
        isinstance(e, SessionRehydrationRequested) and e.session_id == session.session_id for _, e in asked
    )


def test_a_write_to_a_cold_session_brings_it_back_first(
    service: SessionService, session: SessionHead, cold: FakeColdTier
) -> None:
    _say(service, session, "before the long sleep")
    cold.archive(session.session_id)
    _say(service, session, "I'm back")
    updated = service.update_metadata(STUDIO, session.session_id, 1, {"season": "spring"})
    assert cold.rehydrated == [session.session_id]
    assert updated.version == 2
    assert [m.text for m in service.messages(ME, session.session_id).messages] == [
        "before the long sleep",
        "I'm back",
    ]


def test_suspend_starts_the_archive_flow_once(
    service: SessionService, session: SessionHead, flows: FakeFlows
) -> None:
    first = service.suspend(STUDIO, session.session_id)
    second = service.suspend(STUDIO, session.session_id)
    assert first.archiving
    assert first.execution_arn == second.execution_arn
    [(machine, _, payload)] = flows.started
    assert machine == SESSION_ARCHIVE_FLOW
    assert payload == {"session_id": session.session_id, "active_before": None, "reason": "suspended"}


def test_metadata_is_size_limited(service: SessionService, session: SessionHead) -> None:
    with pytest.raises(InvalidRequest, match="KB"):
        service.update_metadata(STUDIO, session.session_id, 1, {"blob": "x" * 20_000})
