"""`npc.say` at most once per `request_id`: a client may repeat the frame (after a timeout or a
reconnect, on any connection of the same player) and gets the first answer, never a second turn.

Before any model work (and before the turn budget is spent) the request id is claimed for the player
with one conditional write: the first claim runs the turn, then stores its reply on the claim; a
repeat finds the claim and is answered from it (a completed claim: the stored reply, same `seq`, same
text) or told the first run is still working (`request_in_progress`: answering is the first run's job;
a repeat that waited would hold a second Lambda for up to a minute, and its tokens go to the
connection that asked first). A turn that fails releases its claim, so a repeat runs it again; a
claim whose run died (the Lambda timed out) may be taken over once `in_flight_until` has passed.
"""

from __future__ import annotations

import hashlib
import json

from aicore.auth import Caller
from aicore.errors import Conflict, RequestInProgress
from aicore.frames import NpcSay
from aicore.npc.claims import RequestRecord, owner_of
from aicore.npc.interrupts import InterruptWatch
from aicore.npc.turn import TurnDeps, TurnOutcome, TurnReply, take_turn
from aicore.topology import TOPOLOGY

REQUEST_WINDOW_S = 10 * 60  # a repeat within this gets the first answer
# A claim's run is over by then (the function's timeout, and a margin): a repeat may take it over.
IN_FLIGHT_S = TOPOLOGY.function("npc-say").timeout_s + 30


def fingerprint(frame: NpcSay) -> str:
    body = json.dumps(frame.model_dump(mode="json", exclude={"request_id"}), sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def take_turn_once(
    frame: NpcSay,
    caller: Caller,
    connection_id: str,
    correlation_id: str,
    deps: TurnDeps,
) -> TurnOutcome:
    """The turn, run once for the player's `request_id` within the window; a repeat gets its reply
    (without a ledger in `deps`, every frame is a turn)."""
    ledger = deps.requests
    if ledger is None:
        return take_turn(frame, caller, connection_id, correlation_id, deps)
    owner, print_ = owner_of(caller), fingerprint(frame)
    now_s = int(deps.clock().timestamp())
    claim = RequestRecord(state="in_progress", fingerprint=print_, in_flight_until=now_s + IN_FLIGHT_S)
    held = ledger.claim(owner, frame.request_id, claim, now_s, now_s + REQUEST_WINDOW_S)
    if held is not None:
        return _repeat(frame, held)
    watch = InterruptWatch(
        lambda: ledger.interrupt_requested(owner, frame.request_id),
        lambda: deps.clock().timestamp(),
        deps.interrupt_check_s,
    )
    try:
        outcome = take_turn(frame, caller, connection_id, correlation_id, deps, watch)
    except BaseException:
        ledger.release(owner, frame.request_id)
        raise
    reply = outcome.reply.model_dump_json()
    done = claim.model_copy(update={"state": "completed", "reply": reply, "interrupted": watch.interrupted})
    ledger.complete(owner, frame.request_id, done, now_s + REQUEST_WINDOW_S)
    return outcome


def _repeat(frame: NpcSay, held: RequestRecord) -> TurnOutcome:
    details = {"request_id": frame.request_id}
    if held.fingerprint != fingerprint(frame):
        raise Conflict(
            "This request_id was already used for a different npc.say: send a new request_id.", details
        )
    if held.state == "in_progress" or held.reply is None:
        raise RequestInProgress(
            "This request is still in progress: its reply comes on the connection that sent it first "
            "(after a reconnect, connection.resume delivers it).",
            details,
        )
    return TurnOutcome(TurnReply.model_validate_json(held.reply), announce=_nothing)


def _nothing() -> None:
    """A repeat announces nothing: the first run did."""
