"""`npc.interrupt`: the player stops an NPC's reply while it streams; what was said is kept as said.

The turn streams in one `npc-say` invocation; the interrupt comes as another frame, answered by
ws-default (small and quick; it does not take one of npc-say's reserved executions from a turn).
The two meet on the turn's claim of its request id in the connections table (`aicore.npc.claims`):

- the interrupt marks the claim (one conditional UpdateItem: only a claim of the same player whose
  run is still in flight, or one marked already) and answers `npc.interrupted`;
- the turn reads the mark while it streams (`InterruptWatch`): at most once per `INTERRUPT_CHECK_S`
  of streaming, after a token has gone to the player (so the mark is seen at the first token after
  the interval; a model gone silent is cut by the router's stall timeout). Once it is set, the turn
  stops taking tokens, the model's stream is closed (the model stops generating), and the reply is
  what was streamed, `truncated_reason: "interrupted"`, stored as said and kept on the claim (a
  repeat of the `npc.say` gets that reply, not a new turn).

A claim is keyed by its player (world and subject), so a player interrupts their own turns from
any of their connections, and another player's request id is as unknown as one never sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from aicore.auth import Caller
from aicore.clock import Clock, now
from aicore.connections import ClientPusher
from aicore.errors import NotFound
from aicore.frames import NpcInterrupt
from aicore.npc.claims import RequestLedger, owner_of
from aicore.observability import logger

INTERRUPTED = "interrupted"  # the reply's `truncated_reason` when the player stopped it
# How often a streaming turn reads its claim's mark: one strongly consistent GetItem (1 read unit)
# per 250 ms of streaming, 4 a second; a 3-second reply costs ~12 reads (its token frames: ~60
# PostToConnection calls). The reply stops within ~250 ms (plus a read) of the mark.
INTERRUPT_CHECK_S = 0.25


class Interrupted(BaseModel):
    """`npc.interrupted`: whether the turn was still streaming when the stop came (true: it stops at
    its next check, and its `npc.reply` says what was said); false: it had already finished."""

    target_request_id: str
    interrupted: bool


@dataclass
class InterruptDeps:
    pusher: ClientPusher
    requests: RequestLedger
    clock: Clock = now


def interrupt(
    frame: NpcInterrupt, caller: Caller, requests: RequestLedger, clock: Clock = now
) -> Interrupted:
    """Mark the caller's turn `frame.target_request_id` interrupted, if it still runs."""
    target = frame.target_request_id
    claim = requests.interrupt(owner_of(caller), target, int(clock().timestamp()))
    if claim is None:
        raise NotFound(
            "You have no recent npc.say with this target_request_id: send npc.interrupt with the "
            "request_id of your own npc.say while its reply streams.",
            {"target_request_id": target},
        )
    return Interrupted(target_request_id=target, interrupted=claim.interrupted)


class InterruptWatch:
    """Whether the player has interrupted the turn: the claim's mark, read at most once per
    `every_s` of `clock` (seconds), the first read `every_s` after the watch starts. Once seen, it
    stays seen. A read that fails counts as no interrupt: the turn goes on."""

    def __init__(
        self, requested: Callable[[], bool], clock: Callable[[], float], every_s: float = INTERRUPT_CHECK_S
    ) -> None:
        self._requested, self._clock, self._every_s = requested, clock, every_s
        self._last = clock()
        self.reads = 0
        self.interrupted = False

    def __call__(self) -> bool:
        if self.interrupted:
            return True
        moment = self._clock()
        if moment - self._last < self._every_s:
            return False
        self._last = moment
        self.reads += 1
        try:
            self.interrupted = self._requested()
        except Exception:
            logger.exception("Reading the turn's interrupt mark failed; the turn goes on")
        return self.interrupted
