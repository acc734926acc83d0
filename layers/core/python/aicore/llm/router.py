"""The AI router: picks a tier for a latency budget and never leaves a player without an answer.

- **Tier.** A first-token budget of 100 ms or less asks for gold; anything else (or none) silver.
- **Health.** Each tier has a circuit breaker, kept for the life of the warm container: after
  `failure_threshold` failures in a row (errors, throttling, timeouts, broken streams) it opens
  and the tier is skipped; after `cooldown_s` one request goes through as a probe (half-open);
  its success closes the breaker, its failure opens it again.
- **Fallback.** The chosen tier, then the other one (gold -> silver; silver -> gold, a faster
  answer rather than none), then an in-character scripted line. The completion says which
  tier answered, whether that was a fallback, and why each skipped tier was skipped.
- **Cut replies.** A reply is `truncated` when it does not end where the model meant it to:
  the stream broke after tokens had reached the player (what was said is kept, the tier counts
  a failure), or the model reached `max_tokens` (finish reason `length`: the tier is healthy).
  Either way the words already streamed are the reply; `truncated_reason` says which.
- **Deadline.** The budget is a deadline for the first token: the time left of it is each
  attempt's timeout, so a slow tier cannot spend its fallback's time, and the scripted line is
  there by the deadline at the latest. A tier is only blamed (its breaker counts a failure) for
  missing a first token it was given the request's budget or its own for: a fallback that ran out
  of what was left of another tier's budget is reported (`timed_out`) but not held against it. Wall-clock
  deadlines are the budget times `deadline_scale`: 1 where the tiers run on their GPUs, more
  where a laptop's CPU model stands in for them (`aicore local`).

The endpoint is read in a worker thread and the caller waits for each token with a deadline,
because botocore's timeouts apply to each socket read, not to the wait for the first token.
The clock and that wait are injected together (`clock`, `wait`), so tests run the deadlines on
virtual time: exact, and as fast on a busy machine as on an idle one.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol, TypeVar

from aicore.errors import ModelUnavailable
from aicore.llm.endpoint import LENGTH, ChatCall, ChatStream, ModelEndpoint, TierTarget
from aicore.llm.tiers import (
    GOLD_BUDGET_MS,
    OWN_BUDGET_MS,
    SCRIPTED,
    SILVER_BUDGET_MS,
    Tier,
    tier_for_budget,
)
from aicore.llm.wire import ChatMessage, Usage
from aicore.observability import logger, traced

__all__ = [
    "GOLD_BUDGET_MS",
    "SCRIPTED",
    "SILVER_BUDGET_MS",
    "Attempt",
    "CircuitBreaker",
    "Completion",
    "ModelRequest",
    "Outcome",
    "Router",
    "RouterPolicy",
    "Tier",
    "TierTarget",
    "tier_for_budget",
]


FALLBACKS: Mapping[Tier, tuple[Tier, ...]] = {
    Tier.GOLD: (Tier.GOLD, Tier.SILVER),
    Tier.SILVER: (Tier.SILVER, Tier.GOLD),
}

Clock = Callable[[], float]
# Takes each piece of the answer as it streams; returning False means nobody listens any more
# (the player left): the router stops reading and closes the model's stream at once.
TokenSink = Callable[[str], bool | None]
MAX_SOCKET_TIMEOUT_S = 300.0
T = TypeVar("T")


class Wait(Protocol):
    """The next item of `items`, waiting at most `timeout_s` by the router's clock (else `queue.Empty`)."""

    def __call__(self, items: queue.SimpleQueue[T], timeout_s: float) -> T: ...


def wait_for_item(items: queue.SimpleQueue[T], timeout_s: float) -> T:
    """The real wait, on the monotonic clock."""
    return items.get(timeout=max(timeout_s, 0.0))


@dataclass(frozen=True)
class RouterPolicy:
    """How long the router waits and when it gives up on a tier.

    First-token deadlines are the budgets times `deadline_scale`. The stall timeout is not scaled:
    once an answer streams, a silence of seconds means a broken stream on any hardware.
    """

    deadline_scale: float = 1.0
    unbudgeted_deadline_ms: float = 10_000  # first-token deadline of a request with no budget
    min_attempt_ms: float = 5.0  # less time than this left: do not start another tier
    stall_timeout_ms: float = 5_000  # longest gap between tokens once the answer has started (unscaled)
    failure_threshold: int = 3  # failures in a row that open a tier's breaker
    cooldown_s: float = 10.0  # how long an open breaker stays open before a probe

    def deadline_s(self, first_token_budget_ms: int | None) -> float:
        budget = self.unbudgeted_deadline_ms if first_token_budget_ms is None else first_token_budget_ms
        return budget * self.deadline_scale / 1000

    @property
    def stall_timeout_s(self) -> float:
        return self.stall_timeout_ms / 1000

    @property
    def socket_timeout_s(self) -> float:
        """botocore's read timeout for every call: the longest first-token wait or stall, capped.

        The router gives up at each request's own deadline; this only bounds how long a socket
        waits (the first byte comes with the first token) and how long an abandoned reader lives.
        One value, so one botocore client, built before the first turn (`SageMakerEndpoint.warm_up`).
        """
        return min(max(self.stall_timeout_s, self.deadline_s(None)), MAX_SOCKET_TIMEOUT_S)

    @property
    def min_attempt_s(self) -> float:
        return self.min_attempt_ms / 1000


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Closed -> (threshold failures in a row) -> open -> (cooldown) -> half-open: one probe decides.

    A probe that never reports back (its caller died) is given up after another cooldown, so
    the tier is probed again rather than skipped forever.
    """

    def __init__(self, name: str, failure_threshold: int, cooldown_s: float, clock: Clock) -> None:
        self.name = name
        self._threshold = failure_threshold
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_since: float | None = None

    @property
    def state(self) -> BreakerState:
        with self._lock:
            if self._state is BreakerState.OPEN and self._cooled_down():
                return BreakerState.HALF_OPEN
            return self._state

    def allow(self) -> bool:
        """Whether a request may go to this tier now (in half-open state, only the one probe)."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            now = self._clock()
            if self._state is BreakerState.OPEN:
                if not self._cooled_down():
                    return False
                self._state = BreakerState.HALF_OPEN
                self._probe_since = now
                logger.info("Circuit half-open: probing", extra={"tier": self.name})
                return True
            if self._probe_since is None or now - self._probe_since >= self._cooldown_s:
                self._probe_since = now
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            if self._state is not BreakerState.CLOSED:
                logger.info("Circuit closed", extra={"tier": self.name})
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._probe_since = None

    def release_probe(self) -> None:
        """An attempt that neither succeeded nor failed (it was given too little time to tell): a
        half-open breaker may send its probe again at once instead of after a cooldown."""
        with self._lock:
            if self._state is BreakerState.HALF_OPEN:
                self._probe_since = None

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
                if self._state is not BreakerState.OPEN:
                    logger.warning(
                        "Circuit opened", extra={"tier": self.name, "failures_in_a_row": self._failures}
                    )
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()
                self._probe_since = None

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self._cooldown_s


class Outcome(StrEnum):
    ANSWERED = "answered"
    TRUNCATED = "truncated"  # answered, then the stream broke: what was said is kept
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    BREAKER_OPEN = "breaker_open"
    NO_TIME_LEFT = "no_time_left"


@dataclass(frozen=True)
class Attempt:
    """What happened to one tier during one request."""

    tier: str
    outcome: Outcome
    ms: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class ModelRequest:
    messages: Sequence[ChatMessage]
    first_token_budget_ms: int | None
    max_tokens: int
    temperature: float = 0.7


@dataclass(frozen=True)
class Completion:
    text: str
    tier: str
    fallback: bool
    first_token_ms: float
    total_ms: float
    tokens: int  # completion tokens: the endpoint's count when it sends one, else the deltas received
    truncated: bool = False
    truncated_reason: str | None = None  # `length`: the token limit; else why the stream broke
    prompt_tokens: int | None = None
    attempts: tuple[Attempt, ...] = field(default=())

    @property
    def tokens_per_s(self) -> float:
        generating_ms = self.total_ms - self.first_token_ms
        return (
            round((self.tokens - 1) * 1000 / generating_ms, 1)
            if self.tokens > 1 and generating_ms > 0
            else 0.0
        )

    @property
    def fallback_reason(self) -> str | None:
        """Why the tiers before the one that answered did not: `gold: timed_out; ...`."""
        skipped = [a for a in self.attempts if a.tier != self.tier]
        if not skipped:
            return None
        return "; ".join(f"{a.tier}: {a.reason or a.outcome.value}" for a in skipped)


@dataclass(frozen=True)
class _End:
    usage: Usage | None = None
    error: ModelUnavailable | None = None
    stalled: bool = False
    listener_gone: bool = False
    finish_reason: str | None = None


_Item = str | _End

# Shared by every router of the process: an idle thread costs nothing, and a reader stuck on a
# silent endpoint ends at its socket timeout (the stall timeout) at the latest.
_READERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="model-stream")


class _StreamReader:
    """Reads one answer in a worker thread; the caller takes each delta with its own deadline."""

    def __init__(self, open_stream: Callable[[], ChatStream], wait: Wait) -> None:
        self._items: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._abandoned = threading.Event()
        self._lock = threading.Lock()
        self._stream: ChatStream | None = None
        self._wait = wait
        _READERS.submit(self._read, open_stream)

    def next(self, timeout_s: float) -> _Item:
        """The next delta or the end; `queue.Empty` when nothing came in `timeout_s`."""
        return self._wait(self._items, timeout_s)

    def abandon(self) -> None:
        """The caller has stopped waiting: the stream is dropped now (the model stops generating for
        nobody), or as soon as it opens if it has not yet."""
        with self._lock:
            self._abandoned.set()
            stream = self._stream
        if stream is not None:
            stream.abort()

    def _read(self, open_stream: Callable[[], ChatStream]) -> None:
        stream: ChatStream | None = None
        try:
            stream = open_stream()
            with self._lock:
                self._stream = stream
                abandoned = self._abandoned.is_set()
            if abandoned:
                stream.abort()
                return
            for delta in stream:
                if self._abandoned.is_set():
                    return
                self._items.put(delta)
            self._items.put(_End(usage=stream.usage, finish_reason=stream.finish_reason))
        except ModelUnavailable as error:
            self._items.put(_End(error=error))
        except Exception as error:
            reason = type(error).__name__
            self._items.put(_End(error=ModelUnavailable(f"{reason}: {error}", details={"reason": reason})))
        finally:
            if stream is not None:
                stream.close()


@dataclass
class _Attempted:
    attempt: Attempt
    completion: Completion | None = None


class Router:
    def __init__(
        self,
        endpoint: ModelEndpoint,
        targets: Mapping[Tier, TierTarget | str],
        policy: RouterPolicy | None = None,
        clock: Clock = time.monotonic,
        wait: Wait = wait_for_item,
    ) -> None:
        self._endpoint = endpoint
        self._targets = {
            tier: target if isinstance(target, TierTarget) else TierTarget(target)
            for tier, target in targets.items()
        }
        self.policy = policy or RouterPolicy()
        self._clock = clock
        self._wait = wait
        self.breakers = {
            tier: CircuitBreaker(tier.value, self.policy.failure_threshold, self.policy.cooldown_s, clock)
            for tier in Tier
        }

    def stream(
        self, request: ModelRequest, on_token: TokenSink, scripted_line: Callable[[], str]
    ) -> Completion:
        """Streams the answer to `on_token`; the returned completion says who answered and how fast."""
        started = self._clock()
        deadline = started + self.policy.deadline_s(request.first_token_budget_ms)
        first = tier_for_budget(request.first_token_budget_ms)
        attempts: list[Attempt] = []
        for tier in FALLBACKS[first]:
            if tier not in self._targets:
                continue
            if deadline - self._clock() < self.policy.min_attempt_s:
                attempts.append(
                    Attempt(tier.value, Outcome.NO_TIME_LEFT, reason="no time left in the budget")
                )
                continue
            if not self.breakers[tier].allow():
                attempts.append(Attempt(tier.value, Outcome.BREAKER_OPEN, reason="circuit open"))
                continue
            with traced("router.attempt", tier=tier.value) as annotate:
                attempted = self._attempt(tier, request, on_token, started, deadline, first=not attempts)
                annotate(outcome=attempted.attempt.outcome.value)
            attempts.append(attempted.attempt)
            if attempted.completion is not None:
                return replace(attempted.completion, fallback=tier != first, attempts=tuple(attempts))
            logger.warning(
                "Model tier gave no answer",
                extra={"tier": tier, "outcome": attempted.attempt.outcome, "error": attempted.attempt.reason},
            )
        return self._scripted(scripted_line, on_token, started, attempts)

    def _attempt(
        self,
        tier: Tier,
        request: ModelRequest,
        on_token: TokenSink,
        started: float,
        deadline: float,
        first: bool,
    ) -> _Attempted:
        attempt_started = self._clock()
        given_s = deadline - attempt_started
        call = ChatCall(
            self._targets[tier],
            request.messages,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            timeout_s=self.policy.socket_timeout_s,
            deadline=time.time() + given_s,  # the endpoint's clock is the wall's
        )
        reader = _StreamReader(lambda: self._endpoint.stream_chat(call), self._wait)
        breaker = self.breakers[tier]

        def attempt(outcome: Outcome, reason: str = "") -> Attempt:
            return Attempt(tier.value, outcome, self._since(attempt_started), reason)

        try:
            item = reader.next(deadline - self._clock())
        except queue.Empty:
            reader.abandon()
            if first or given_s >= self.policy.deadline_s(OWN_BUDGET_MS[tier]):
                breaker.record_failure()
                return _Attempted(attempt(Outcome.TIMED_OUT, "no first token in time"))
            breaker.release_probe()
            left = f"no first token in the {given_s * 1000:.0f} ms left of the budget"
            return _Attempted(attempt(Outcome.TIMED_OUT, left))
        if isinstance(item, _End):
            breaker.record_failure()
            return _Attempted(attempt(Outcome.FAILED, _reason(item.error) if item.error else "empty answer"))

        first_token_ms = self._since(started)
        pieces = [item]
        if on_token(item) is False:
            reader.abandon()
            end = _End(listener_gone=True)
        else:
            end = self._rest(reader, pieces, on_token)
        broken = end.error is not None or end.stalled
        broken_reason = _broken_reason(end)
        if broken:
            breaker.record_failure()
            # Tokens already reached the player: keep what was said rather than start over.
            logger.warning("Model stream cut mid-way", extra={"tier": tier, "tokens": len(pieces)})
        else:
            breaker.record_success()
        at_limit = broken_reason is None and end.finish_reason == LENGTH
        usage = end.usage
        completion = Completion(
            text="".join(pieces).strip(),
            tier=tier.value,
            fallback=False,
            first_token_ms=first_token_ms,
            total_ms=self._since(started),
            tokens=usage.completion_tokens if usage else len(pieces),
            truncated=broken_reason is not None or at_limit,
            truncated_reason=LENGTH if at_limit else broken_reason,
            prompt_tokens=usage.prompt_tokens if usage else None,
        )
        if broken_reason is None:
            return _Attempted(attempt(Outcome.ANSWERED), completion)
        return _Attempted(attempt(Outcome.TRUNCATED, broken_reason), completion)

    def _rest(self, reader: _StreamReader, pieces: list[str], on_token: TokenSink) -> _End:
        while True:
            try:
                item = reader.next(self.policy.stall_timeout_s)
            except queue.Empty:
                reader.abandon()
                return _End(stalled=True)
            if isinstance(item, _End):
                return item
            pieces.append(item)
            if on_token(item) is False:
                reader.abandon()
                return _End(listener_gone=True)

    def _scripted(
        self,
        scripted_line: Callable[[], str],
        on_token: TokenSink,
        started: float,
        attempts: Iterable[Attempt],
    ) -> Completion:
        line = scripted_line()
        on_token(line)
        elapsed = self._since(started)
        return Completion(
            line,
            SCRIPTED,
            fallback=True,
            first_token_ms=elapsed,
            total_ms=elapsed,
            tokens=1,
            attempts=tuple(attempts),
        )

    def _since(self, start: float) -> float:
        return _ms(start, self._clock())


def _broken_reason(end: _End) -> str | None:
    """Why an answer that had started did not finish (None: it did)."""
    if end.error is not None:
        return _reason(end.error)
    if end.stalled:
        return "stalled mid-answer"
    if end.listener_gone:
        return "nobody listens any more: the model was stopped"
    return None


def _reason(error: ModelUnavailable) -> str:
    return str(error.details.get("reason") or error.message)


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 3)
