"""`npc.say` at most once per request id (aicore.npc.requests), through the real npc-say handler over
fakes: a repeat gets the first answer (same seq, same text), and the model is asked once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aicore.auth import Caller
from aicore.frames import NpcSay
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.npc.claims import RequestRecord, owner_of
from aicore.npc.requests import IN_FLIGHT_S, REQUEST_WINDOW_S, fingerprint
from aicore.npc.turn import TurnDeps
from aicore.topology import TOPOLOGY
from tests.fakes import FakePublisher, FakePusher, FakeSessions, ScriptedEndpoint
from tests.npc_turns import CONNECTION, PLAYER, connected, turn_deps
from tests.protocol_fakes import FakeRequestLedger

SAY = {"action": "npc.say", "request_id": "r-1", "npc_id": "mira", "text": "Any rooms?"}
OTHER_CONNECTION = "cOtHeRcOnNeCtIoN="


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment


def _deps() -> tuple[TurnDeps, ScriptedEndpoint, FakeRequestLedger, Clock]:
    endpoint = ScriptedEndpoint()
    deps = turn_deps(endpoint=endpoint)
    deps.requests = ledger = FakeRequestLedger()
    deps.clock = clock = Clock()
    return deps, endpoint, ledger, clock


def _send(
    deps: TurnDeps, frame: dict[str, Any] = SAY, connection_id: str = CONNECTION, caller: Caller = PLAYER
) -> dict[str, Any]:
    """The frame on `connection_id`; the final frame answering it."""
    event = connected(json.dumps(frame), caller)
    event["requestContext"]["connectionId"] = connection_id
    handler = Lambdas().module(TOPOLOGY.function("npc-say")).handler
    assert handler(event, LambdaContext("npc-say", 1024, 60), deps=deps) == {"statusCode": 200}
    assert isinstance(deps.pusher, FakePusher)
    final = [f for c, f in deps.pusher.frames if c == connection_id and f["type"] != "npc.token"]
    return final[-1]


def _npc_lines(deps: TurnDeps) -> list[str]:
    store = deps.sessions.store
    assert isinstance(store, FakeSessions)
    return [m.text for messages in store.messages.values() for m in messages if m.speaker.id == "mira"]


def test_a_repeated_request_id_gets_the_first_reply_and_the_model_is_asked_once() -> None:
    deps, endpoint, ledger, _ = _deps()
    first = _send(deps)
    tokens_before = len(deps.pusher.of_type("npc.token"))  # type: ignore[attr-defined]

    # When the client repeats the frame (a timeout), then again from a new connection (a reconnect)
    again = _send(deps)
    elsewhere = _send(deps, connection_id=OTHER_CONNECTION)

    # Then both get the first reply (same seq, same text), the model ran once, the reply is stored once
    assert first["type"] == again["type"] == elsewhere["type"] == "npc.reply"
    assert again["data"] == first["data"] == elsewhere["data"]
    assert (again["request_id"], elsewhere["request_id"]) == ("r-1", "r-1")
    assert len(endpoint.calls) == 1
    assert _npc_lines(deps) == [first["data"]["text"]]
    # ... no tokens streamed again, and the turn was announced once
    assert len(deps.pusher.of_type("npc.token")) == tokens_before  # type: ignore[attr-defined]
    assert isinstance(deps.events, FakePublisher)
    assert len(deps.events.published) == 1
    assert ledger.claims == 3


def test_another_player_may_use_the_same_request_id() -> None:
    deps, endpoint, _, _ = _deps()
    first = _send(deps)
    theirs = _send(deps, caller=Caller(subject="p2", world_id="demo"))

    assert (first["type"], theirs["type"]) == ("npc.reply", "npc.reply")
    assert len(endpoint.calls) == 2
    assert theirs["data"]["session_id"] != first["data"]["session_id"]


def test_a_request_id_reused_for_a_different_line_is_a_conflict() -> None:
    deps, endpoint, _, _ = _deps()
    _send(deps)

    answer = _send(deps, SAY | {"text": "Any stew?"})

    assert (answer["type"], answer["error"]["code"]) == ("error", "conflict")
    assert answer["error"]["details"] == {"request_id": "r-1"}
    assert "Any stew" not in json.dumps(answer)  # input is never echoed
    assert len(endpoint.calls) == 1


def test_a_repeat_while_the_first_run_works_is_told_it_is_in_progress_until_that_run_died() -> None:
    # Given a first run of r-1 that claimed it and is still working (elsewhere)
    deps, endpoint, ledger, clock = _deps()
    now_s = int(clock().timestamp())
    working = RequestRecord(
        state="in_progress",
        fingerprint=fingerprint(NpcSay.model_validate(SAY)),
        in_flight_until=now_s + IN_FLIGHT_S,
    )
    ledger.records[(owner_of(PLAYER), "r-1")] = (working, now_s + REQUEST_WINDOW_S)

    # When the client repeats it, it is told so, and the model is not asked
    answer = _send(deps)
    assert (answer["type"], answer["error"]["code"]) == ("error", "request_in_progress")
    assert endpoint.calls == []

    # When the first run's Lambda died (its time is over), a repeat takes the claim over and runs the turn
    clock.moment += timedelta(seconds=IN_FLIGHT_S)
    answer = _send(deps)
    assert answer["type"] == "npc.reply"
    assert len(endpoint.calls) == 1


def test_a_failed_turn_releases_its_request_id_so_a_repeat_runs_again() -> None:
    deps, _, ledger, _ = _deps()
    unknown = SAY | {"npc_id": "nobody"}

    assert _send(deps, unknown)["error"]["code"] == "not_found"
    assert ledger.records == {}
    assert _send(deps, unknown)["error"]["code"] == "not_found"  # run again, not "in progress"
    assert ledger.claims == 2


def test_after_the_window_a_request_id_is_a_new_turn() -> None:
    deps, endpoint, _, clock = _deps()
    first = _send(deps)

    clock.moment += timedelta(seconds=REQUEST_WINDOW_S)
    later = _send(deps)

    assert len(endpoint.calls) == 2
    assert later["data"]["seq"] > first["data"]["seq"]


def test_without_a_ledger_every_frame_is_a_turn() -> None:
    deps, endpoint, _, _ = _deps()
    deps.requests = None
    _send(deps)
    _send(deps)
    assert len(endpoint.calls) == 2
