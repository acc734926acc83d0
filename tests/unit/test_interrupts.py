"""`npc.interrupt` through the real handlers over fakes: the player stops a streaming reply from
ws-default while npc-say streams it; what was said is the reply, stored as said, kept on the claim."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from aicore.auth import Caller
from aicore.frames import KNOWN_ACTIONS, SERVER_FRAME_TYPES, NpcSay
from aicore.llm.endpoint import ChatCall, ChatStream
from aicore.llm.router import Router
from aicore.npc.claims import RequestRecord, owner_of
from aicore.npc.interrupts import InterruptDeps, InterruptWatch
from aicore.npc.requests import IN_FLIGHT_S, REQUEST_WINDOW_S, fingerprint
from aicore.npc.turn import TurnDeps
from aicore.topology import TOPOLOGY
from tests.fakes import FakePusher, FakeSessions, ScriptedEndpoint
from tests.handlers import invoke
from tests.npc_turns import CONNECTION, PLAYER, TIERS, connected, turn_deps
from tests.protocol_fakes import FakeRequestLedger
from tests.virtual_time import VirtualTime

pytestmark = pytest.mark.timeout(120)  # a turn that never stopped its model would hang: fail instead

NOW = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
SAY = {"action": "npc.say", "request_id": "r-1", "npc_id": "mira", "text": "Any rooms?"}
STOP = {"action": "npc.interrupt", "request_id": "i-1", "target_request_id": "r-1"}
PHONE = "pHoNeCoNnEcTiOn="  # another connection of the same player
REAL_WAIT_S = 30.0  # bounds a broken test only


@dataclass
class EndlessEndpoint(ScriptedEndpoint):
    """A model that never stops by itself: a first token, then (once `go_on` is set) endless more.
    Only a caller that closes the stream ends it; `closed` says it was."""

    go_on: threading.Event = field(default_factory=threading.Event)
    closed: threading.Event = field(default_factory=threading.Event)

    def stream_chat(self, call: ChatCall) -> ChatStream:
        self.calls.append(call.target.endpoint)
        return ChatStream(self._endless())

    def _endless(self) -> Iterator[str]:
        try:
            yield "Well "
            assert self.go_on.wait(REAL_WAIT_S), "the player never interrupted"
            while True:
                yield "met "
        finally:
            self.closed.set()


@dataclass
class PlayerWhoInterrupts(FakePusher):
    """A player who, on their phone, interrupts the turn as soon as its first token reaches them."""

    interrupts: InterruptDeps | None = None
    model: EndlessEndpoint | None = None

    def send(self, connection_id: str, frame: dict[str, Any]) -> bool:
        delivered = super().send(connection_id, frame)
        first_token = frame["type"] == "npc.token" and len(self.of_type("npc.token")) == 1
        if delivered and first_token and self.interrupts is not None and self.model is not None:
            _interrupt(self.interrupts, STOP, connection_id=PHONE)
            self.model.go_on.set()
        return delivered


def _interrupt(
    deps: InterruptDeps,
    frame: dict[str, Any] = STOP,
    caller: Caller = PLAYER,
    connection_id: str = CONNECTION,
) -> dict[str, Any]:
    """The frame sent on `connection_id` to ws-default; the frame answering it."""
    event = connected(json.dumps(frame), caller, route_key="npc.interrupt")
    event["requestContext"]["connectionId"] = connection_id
    assert invoke("ws-default", event, interrupts=deps) == {"statusCode": 200}
    assert isinstance(deps.pusher, FakePusher)
    return [f for c, f in deps.pusher.frames if c == connection_id][-1]


def _say(deps: TurnDeps, frame: dict[str, Any] = SAY) -> dict[str, Any]:
    """The npc.say frame on CONNECTION; the frame that ends its answer."""
    assert invoke("npc-say", connected(json.dumps(frame)), deps=deps) == {"statusCode": 200}
    assert isinstance(deps.pusher, FakePusher)
    return [f for c, f in deps.pusher.frames if c == CONNECTION and f["type"] != "npc.token"][-1]


def _npc_lines(deps: TurnDeps) -> list[str]:
    store = deps.sessions.store
    assert isinstance(store, FakeSessions)
    return [m.text for messages in store.messages.values() for m in messages if m.speaker.id == "mira"]


def _streamed(pusher: FakePusher) -> str:
    return "".join(f["data"]["text"] for f in pusher.of_type("npc.token"))


def _world(
    endpoint: ScriptedEndpoint | None = None,
) -> tuple[TurnDeps, InterruptDeps, FakeRequestLedger]:
    """A turn over fakes with a request ledger, whose interrupt mark is read after every token sent."""
    deps = turn_deps()
    time = VirtualTime()
    deps.router = Router(endpoint or ScriptedEndpoint(), TIERS, clock=time, wait=time.wait)
    deps.requests = ledger = FakeRequestLedger()
    deps.clock = lambda: NOW
    deps.interrupt_check_s = 0.0
    interrupts = InterruptDeps(pusher=deps.pusher, requests=ledger, clock=lambda: NOW)
    return deps, interrupts, ledger


def _interrupted_mid_stream() -> tuple[
    TurnDeps, InterruptDeps, FakeRequestLedger, EndlessEndpoint, dict[str, Any]
]:
    model = EndlessEndpoint()
    deps, interrupts, ledger = _world(model)
    deps.pusher = interrupts.pusher = PlayerWhoInterrupts(interrupts=interrupts, model=model)
    reply = _say(deps)
    return deps, interrupts, ledger, model, reply


def test_an_interrupt_mid_stream_stops_the_model_and_the_reply_is_what_was_said() -> None:
    # Given a turn whose model would never stop, interrupted from the player's phone after its first token
    deps, _, ledger, model, reply = _interrupted_mid_stream()

    # Then the phone was told the turn stops
    assert isinstance(deps.pusher, FakePusher)
    [answer] = [f for c, f in deps.pusher.frames if c == PHONE]
    assert (answer["type"], answer["request_id"], answer["ok"]) == ("npc.interrupted", "i-1", True)
    assert answer["data"] == {"target_request_id": "r-1", "interrupted": True}
    # ... the turn's own reply came, cut where the player stopped it: exactly the text streamed
    assert (reply["type"], reply["request_id"]) == ("npc.reply", "r-1")
    data = reply["data"]
    assert (data["truncated"], data["truncated_reason"]) == (True, "interrupted")
    assert data["text"] == _streamed(deps.pusher)
    assert data["text"] in ("Well", "Well met")  # stopped at the first token sent after the mark
    # ... stored as said, and kept on the claim as the answer to this request id
    assert _npc_lines(deps) == [data["text"]]
    record, _ = ledger.records[(owner_of(PLAYER), "r-1")]
    assert (record.state, record.interrupted) == ("completed", True)
    # ... and the model's stream was closed: it stopped generating for nobody
    assert model.closed.wait(REAL_WAIT_S)
    assert len(model.calls) == 1


def test_a_repeat_of_the_interrupted_say_gets_the_interrupted_reply_not_a_new_turn() -> None:
    deps, _, _, model, reply = _interrupted_mid_stream()
    assert isinstance(deps.pusher, FakePusher)
    tokens = len(deps.pusher.of_type("npc.token"))

    again = _say(deps)

    assert again["type"] == "npc.reply"
    assert again["data"] == reply["data"]
    assert again["data"]["truncated_reason"] == "interrupted"
    assert len(model.calls) == 1
    assert len(deps.pusher.of_type("npc.token")) == tokens
    assert _npc_lines(deps) == [reply["data"]["text"]]


def test_interrupting_twice_gets_the_same_answer() -> None:
    # Given a turn interrupted mid-stream (answered `interrupted: true`), now over
    _, interrupts, _, _, _ = _interrupted_mid_stream()

    # When the player sends the interrupt again (another frame, another request id)
    again = _interrupt(interrupts, STOP | {"request_id": "i-2"})

    assert (again["type"], again["request_id"]) == ("npc.interrupted", "i-2")
    assert again["data"] == {"target_request_id": "r-1", "interrupted": True}


def test_an_interrupt_after_the_reply_ended_changes_nothing() -> None:
    deps, interrupts, ledger = _world()
    reply = _say(deps)

    answer = _interrupt(interrupts)
    twice = _interrupt(interrupts)

    assert answer["type"] == "npc.interrupted"
    assert answer["data"] == twice["data"] == {"target_request_id": "r-1", "interrupted": False}
    assert reply["data"]["truncated"] is False
    assert _npc_lines(deps) == ["Well met, traveller."]
    record, _ = ledger.records[(owner_of(PLAYER), "r-1")]
    assert record.interrupted is False
    assert _say(deps)["data"] == reply["data"]  # a repeat still gets the whole reply


def test_a_mark_that_comes_after_the_turns_last_look_survives_its_completion() -> None:
    # Given a turn in flight, interrupted in the moment its reply ended by itself
    _, interrupts, ledger = _world()
    owner = owner_of(PLAYER)
    working = _working_claim()
    ledger.records[(owner, "r-1")] = (working, int(NOW.timestamp()) + REQUEST_WINDOW_S)
    first = _interrupt(interrupts)
    # ... whose run, having missed the mark, completes its claim as not interrupted
    done = working.model_copy(update={"state": "completed", "reply": "{}"})
    ledger.complete(owner, "r-1", done, int(NOW.timestamp()) + REQUEST_WINDOW_S)

    # Then a second interrupt gets the first one's answer
    assert first["data"]["interrupted"] is True
    assert _interrupt(interrupts)["data"]["interrupted"] is True


def test_another_players_turn_cannot_be_interrupted_and_is_not_revealed() -> None:
    # Given p1's turn r-1 in flight
    _, interrupts, ledger = _world()
    ledger.records[(owner_of(PLAYER), "r-1")] = (_working_claim(), int(NOW.timestamp()) + REQUEST_WINDOW_S)

    # When p2 tries to interrupt it, and a request id nobody sent
    theirs = _interrupt(interrupts, caller=Caller(subject="p2", world_id="demo"))
    unknown = _interrupt(interrupts, STOP | {"target_request_id": "r-404"})

    # Then both are not_found, alike: nothing says p1's request exists; p1's turn goes on
    assert (theirs["type"], theirs["error"]["code"]) == ("error", "not_found")
    assert theirs["error"]["message"] == unknown["error"]["message"]
    assert theirs["error"]["details"] == {"target_request_id": "r-1"}
    assert unknown["error"]["details"] == {"target_request_id": "r-404"}
    assert ledger.records[(owner_of(PLAYER), "r-1")][0].interrupted is False


def test_a_turn_whose_run_died_or_whose_window_passed_is_not_interrupted() -> None:
    _, interrupts, ledger = _world()
    owner = owner_of(PLAYER)
    died = _working_claim().model_copy(update={"in_flight_until": int(NOW.timestamp())})
    ledger.records[(owner, "r-1")] = (died, int(NOW.timestamp()) + REQUEST_WINDOW_S)
    ledger.records[(owner, "r-2")] = (_working_claim(), int(NOW.timestamp()))  # expired

    assert _interrupt(interrupts)["data"]["interrupted"] is False
    assert _interrupt(interrupts, STOP | {"target_request_id": "r-2"})["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "frame",
    [
        {"action": "npc.interrupt", "request_id": "i-1"},  # no target
        STOP | {"target_request_id": "not an id!"},
        STOP | {"extra": 1},
    ],
)
def test_bad_interrupt_frames_get_an_invalid_request_error(frame: dict[str, Any]) -> None:
    _, interrupts, _ = _world()
    answer = _interrupt(interrupts, frame)
    assert (answer["type"], answer["error"]["code"]) == ("error", "invalid_request")


class Ticks:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_the_watch_reads_the_mark_at_most_once_per_interval() -> None:
    # Given a watch over a mark that is set at the third read, checked every 0.25 s
    clock, reads = Ticks(), []

    def requested() -> bool:
        reads.append(clock.now_s)
        return len(reads) == 3

    watch = InterruptWatch(requested, clock, every_s=0.25)

    # When tokens come every 0.1 s for a second
    seen = []
    for _ in range(10):
        clock.now_s += 0.1
        seen.append(watch())

    # Then the mark was read once per 0.3 s of tokens (the first a quarter second in), and once
    # seen never read again
    assert reads == pytest.approx([100.3, 100.6, 100.9])
    assert seen == [False] * 8 + [True, True]
    assert watch.reads == 3


def test_a_failing_read_of_the_mark_lets_the_turn_go_on() -> None:
    clock = Ticks()

    def broken() -> bool:
        raise RuntimeError("ProvisionedThroughputExceededException")

    watch = InterruptWatch(broken, clock, every_s=0.25)
    clock.now_s += 1
    assert watch() is False
    assert watch.reads == 1


def _working_claim() -> RequestRecord:
    return RequestRecord(
        state="in_progress",
        fingerprint=fingerprint(NpcSay.model_validate(SAY)),
        in_flight_until=int(NOW.timestamp()) + IN_FLIGHT_S,
    )


def test_the_interrupt_is_routed_to_ws_default_and_published_with_the_capabilities() -> None:
    route = TOPOLOGY.websocket_route("npc.interrupt")
    assert route is not None
    assert route.name == "ws-default"
    assert "npc.interrupt" in KNOWN_ACTIONS
    assert "npc.interrupted" in SERVER_FRAME_TYPES
