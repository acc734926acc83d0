"""Per-player and per-connection turn budgets: token buckets shared by every Lambda container.

Each bucket is kept as GCRA does it: one number, the theoretical arrival time (TAT, epoch ms) of
the next turn. A turn is allowed when, after it, the TAT is at most `burst` intervals ahead of now;
it moves the TAT on by one interval (60,000 / per_minute ms). A player's bucket and the bucket of
the connection the turn came on live on one DynamoDB item (`aicore.aws.turn_budgets`), so one
conditional UpdateItem spends from both or from neither.

DynamoDB expressions have no `max`, so the write says which case it expects for each bucket:
*idle* (TAT at or before now: set it to now + interval) or *busy* (TAT ahead: add the interval, if
it stays within the burst). The guess comes from this container's last sight of the bucket (idle
when it has none); a wrong guess fails the condition and returns the item as stored, from which
the limiter either refuses (no more writes) or writes again with the right guess. A refusal the
container can already see (a TAT it knows only grows) costs no call at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aicore.auth import Caller, Role
from aicore.clock import Clock, now
from aicore.errors import RateLimited
from aicore.platform.settings import TurnBudget, TurnLimits

EXEMPT = (Role.STUDIO, Role.ADMIN)
ATTEMPTS = 3  # writes per turn at most (a wrong guess, then a race with another container)
CONTENDED_RETRY_MS = 250  # what a turn that kept racing others of the same player is told
KNOWN_BUCKETS = 10_000  # this container's sightings are forgotten past this many (memory bound)
IDLE_TTL_S = 3600  # a budget item outlives its last turn by this; DynamoDB's TTL then removes it
PLAYER_BUCKET = "player"


def budget_key(world_id: str, player_id: str) -> str:
    return f"BUDGET#{world_id}#{player_id}"


def connection_bucket(connection_id: str) -> str:
    return f"conn#{connection_id}"


@dataclass(frozen=True)
class Spend:
    """One bucket's part of the write: which case it expects, and by how much it moves."""

    bucket: str
    interval_ms: int
    tolerance_ms: int  # burst x interval: how far ahead of now the TAT may run
    idle: bool

    def wait_ms(self, tat: int, now_ms: int) -> int:
        """How long until this bucket admits a turn, given its TAT (0: now)."""
        return max(0, tat + self.interval_ms - self.tolerance_ms - now_ms)


@dataclass(frozen=True)
class SpendOutcome:
    written: bool
    tats: dict[str, int]  # written: each bucket's new TAT; else: as stored (absent: never used)


class BudgetStore(Protocol):
    def spend(self, key: str, spends: Sequence[Spend], now_ms: int, expires_at: int) -> SpendOutcome:
        """One conditional write: every bucket moves on by its interval if every guess holds."""
        ...


def _spend(bucket: str, budget: TurnBudget, idle: bool) -> Spend:
    interval = -(-60_000 // budget.per_minute)
    return Spend(bucket, interval, budget.burst * interval, idle)


@dataclass
class TurnLimiter:
    store: BudgetStore
    clock: Clock = now
    _seen: dict[tuple[str, str], int] = field(default_factory=dict)  # (key, bucket) -> TAT last seen

    def take(self, caller: Caller, connection_id: str, limits: TurnLimits) -> None:
        """Spend one turn of the player's and the connection's budgets, or raise `RateLimited`
        (`details.retry_after_ms`). Studios and admins are not counted."""
        if caller.has_any(*EXEMPT):
            return
        key = budget_key(caller.world_id, caller.subject)
        buckets = ((PLAYER_BUCKET, limits.player), (connection_bucket(connection_id), limits.connection))
        now_ms = int(self.clock().timestamp() * 1000)
        for _ in range(ATTEMPTS):
            spends = [_spend(b, budget, self._seen.get((key, b), 0) <= now_ms) for b, budget in buckets]
            self._refuse_if_spent(key, spends, now_ms)
            outcome = self.store.spend(key, spends, now_ms, now_ms // 1000 + IDLE_TTL_S)
            self._remember(key, outcome.tats)
            if outcome.written:
                return
        raise RateLimited(
            "Too many turns at once from this player: wait a moment.",
            {"retry_after_ms": CONTENDED_RETRY_MS},
        )

    def refuse_if_known_spent(self, caller: Caller, connection_id: str, limits: TurnLimits) -> None:
        """Raise `RateLimited` when this container already knows a budget is spent, without a
        round trip or a spend: a check before costly work that comes before the turn (transcribing
        an utterance of `npc.listen`)."""
        if caller.has_any(*EXEMPT):
            return
        key = budget_key(caller.world_id, caller.subject)
        buckets = ((PLAYER_BUCKET, limits.player), (connection_bucket(connection_id), limits.connection))
        now_ms = int(self.clock().timestamp() * 1000)
        self._refuse_if_spent(key, [_spend(b, budget, False) for b, budget in buckets], now_ms)

    def _refuse_if_spent(self, key: str, spends: list[Spend], now_ms: int) -> None:
        wait = max(s.wait_ms(self._seen.get((key, s.bucket), 0), now_ms) for s in spends)
        if wait > 0:
            raise RateLimited(
                f"You are talking faster than NPCs can listen: try again in {-(-wait // 1000)} s.",
                {"retry_after_ms": wait},
            )

    def _remember(self, key: str, tats: dict[str, int]) -> None:
        if len(self._seen) > KNOWN_BUCKETS:
            self._seen.clear()
        for bucket, tat in tats.items():
            self._seen[(key, bucket)] = tat
