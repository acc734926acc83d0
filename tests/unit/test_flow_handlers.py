"""The session flows' Lambda steps and their starters, through the real handlers, over fakes.

session-archiver and session-rehydrator take `{"step": ..., "session_id": ..., ...}` from the
state machines (`aicore.sessions.flow_steps`); session-tiering starts the flows (the dormancy
sweep on its schedule, a rehydration on its event). Each answer is the JSON the flow reads.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from aicore.sessions.models import StorageTier
from aicore.topology import SESSION_ARCHIVE_FLOW, SESSION_REHYDRATE_FLOW
from tests.events import load_event
from tests.fakes import FakeFlows
from tests.handlers import invoke
from tests.tier_fakes import ARCHIVER, NOW, REHYDRATOR
from tests.tier_fakes import TieringWorld as World


@pytest.fixture
def world() -> World:
    return World()


# The steps to which the ASL passes its execution as the mover (`"mover.$": "$$.Execution.Id"`)
MOVES = {"freeze", "thaw", "claim", "restore", "release"}


def _archiver(world: World, step: str, session_id: str, **fields: Any) -> dict[str, Any]:
    mover = {"mover": ARCHIVER} if step in MOVES else {}
    answer: dict[str, Any] = invoke(
        "session-archiver",
        {"step": step, "session_id": session_id, **mover, **fields},
        tiering=world.tiering,
    )
    return answer


def _rehydrator(world: World, step: str, session_id: str, **fields: Any) -> dict[str, Any]:
    mover = {"mover": REHYDRATOR} if step in MOVES else {}
    answer: dict[str, Any] = invoke(
        "session-rehydrator",
        {"step": step, "session_id": session_id, **mover, **fields},
        tiering=world.tiering,
    )
    return answer


def test_the_archive_flow_steps_answer_what_its_choice_states_read(world: World) -> None:
    # Given a warm session
    head = world.warm_session()

    # When the archive flow's tasks run, each with the input the ASL gives it
    freeze = _archiver(world, "freeze", head.session_id, active_before=None)
    upload = _archiver(world, "upload", head.session_id)
    seal = _archiver(world, "seal", head.session_id, archive_key=upload["archive_key"])

    # Then `$.freeze.frozen` leads on to the upload, `$.upload.archive_key` to the seal
    assert freeze == {"session_id": head.session_id, "frozen": True, "tier": "archiving"}
    assert (upload["session_id"], upload["message_count"], upload["stored_messages"]) == (
        head.session_id,
        120,
        120,
    )
    assert seal == {"session_id": head.session_id, "archive_key": upload["archive_key"], "purged_items": 21}
    assert world.tier(head) is StorageTier.COLD


def test_a_failed_archive_is_thawed_by_its_step(world: World) -> None:
    head = world.warm_session()
    _archiver(world, "freeze", head.session_id)

    assert _archiver(world, "thaw", head.session_id) == {
        "session_id": head.session_id,
        "frozen": False,
        "tier": "warm",
    }


def test_the_rehydrate_flow_steps_answer_what_its_choice_states_read(world: World) -> None:
    # Given an archived session
    head = world.warm_session()
    key = world.archived(head)

    # When the rehydrate flow's tasks run
    claim = _rehydrator(world, "claim", head.session_id)
    restore = _rehydrator(world, "restore", head.session_id, archive_key=claim["archive_key"])
    discard = _rehydrator(world, "discard", head.session_id, archive_key=claim["archive_key"])

    # Then `$.claim.claimed` leads to the restore with `$.claim.archive_key`, and the object goes
    assert claim == {
        "session_id": head.session_id,
        "claimed": True,
        "archive_key": key,
        "tier": "rehydrating",
    }
    assert restore == {"session_id": head.session_id, "archive_key": key, "messages": 120, "tier": "warm"}
    assert discard == {"archive_key": key}
    assert world.archive.objects == {}


def test_a_failed_rehydration_is_released_by_its_step(world: World) -> None:
    head = world.warm_session()
    world.archived(head)
    _rehydrator(world, "claim", head.session_id)

    release = _rehydrator(world, "release", head.session_id)

    assert release == {"session_id": head.session_id, "claimed": False, "archive_key": None, "tier": "cold"}


@pytest.mark.parametrize(
    ("function", "event"),
    [
        ("session-archiver", {"step": "explode", "session_id": "ses_1"}),
        ("session-archiver", {"step": "seal", "session_id": "ses_1"}),  # no archive_key
        ("session-archiver", {"step": "freeze", "session_id": ""}),
        ("session-rehydrator", {"step": "restore", "session_id": "ses_1"}),  # no archive_key
        ("session-rehydrator", {"step": "freeze", "session_id": "ses_1"}),  # an archive step
        ("session-rehydrator", {"step": "claim", "session_id": "x" * 129, "mover": REHYDRATOR}),
        ("session-archiver", {"step": "freeze", "session_id": "ses_1"}),  # no mover
        ("session-rehydrator", {"step": "claim", "session_id": "ses_1", "mover": ""}),
    ],
)
def test_a_step_input_the_flow_never_sends_fails_the_task_and_changes_nothing(
    world: World, function: str, event: dict[str, Any]
) -> None:
    head = world.warm_session()
    with pytest.raises(ValidationError):
        invoke(function, event, tiering=world.tiering)
    assert world.tier(head) is StorageTier.WARM


# --- session-tiering: the flows' starters ---------------------------------------------------------


def test_the_scheduled_sweep_starts_the_archive_flow_for_dormant_sessions(world: World) -> None:
    # Given a session quiet for two years and one active now
    old = world.warm_session(last_active=NOW - timedelta(days=730))
    world.warm_session()
    flows = FakeFlows()

    # When the schedule fires, twice the same day (Scheduler delivers at least once)
    first = invoke("session-tiering", load_event("scheduler_tick"), tiering=world.tiering, flows=flows)
    second = invoke("session-tiering", load_event("scheduler_tick"), tiering=world.tiering, flows=flows)

    # Then the archive flow started once, for the dormant session
    assert (first["dormant"], first["started"]) == (1, [old.session_id])
    assert second["started"] == []
    assert [(machine, payload["session_id"]) for machine, _, payload in flows.started] == [
        (SESSION_ARCHIVE_FLOW, old.session_id)
    ]


def test_a_rehydration_request_starts_one_flow_per_archive_object() -> None:
    # Given the event a read of a cold session put on the bus
    event = load_event("session_rehydration_requested")
    detail = event["detail"]
    flows = FakeFlows()

    # When it is delivered twice (EventBridge delivers at least once)
    first = invoke("session-tiering", event, flows=flows)
    second = invoke("session-tiering", event, flows=flows)

    # Then one rehydrate flow started for the session, named for the object: the second is the same
    name = f"{detail['session_id']}-rehydrate-20261123T054000"
    assert flows.started == [(SESSION_REHYDRATE_FLOW, name, {"session_id": detail["session_id"]})]
    assert first == {
        "session_id": detail["session_id"],
        "execution_arn": f"arn:aws:states:::execution:{SESSION_REHYDRATE_FLOW}:{name}",
        "started": True,
    }
    assert (second["execution_arn"], second["started"]) == (first["execution_arn"], False)


def test_a_rehydration_request_without_its_fields_is_refused() -> None:
    event = load_event("session_rehydration_requested")
    del event["detail"]["archive_key"]
    flows = FakeFlows()
    with pytest.raises(ValidationError, match="archive_key"):
        invoke("session-tiering", event, flows=flows)
    assert flows.started == []
