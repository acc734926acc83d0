"""The AI router: picks a tier for a latency budget and never leaves a player without an answer.

Fallback order: the chosen tier, then the slower tier(s) after it, then an in-character
scripted line. The result says which happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from aicore.errors import ModelUnavailable
from aicore.models.endpoint import ModelEndpoint
from aicore.models.wire import ChatMessage
from aicore.observability import logger


class Tier(StrEnum):
    GOLD = "gold"
    SILVER = "silver"


SCRIPTED = "scripted"
FALLBACK_ORDER: tuple[Tier, ...] = (Tier.GOLD, Tier.SILVER)
GOLD_BUDGET_MS = 100
SILVER_BUDGET_MS = 1000
# How long a tier may take to send its first (or next) token before we give up on it.
TIER_TIMEOUT_S: Mapping[Tier, float] = {Tier.GOLD: 10.0, Tier.SILVER: 20.0}


def tier_for_budget(first_token_budget_ms: int | None) -> Tier:
    """Under 100 ms: gold. Anything else (or no budget): silver, the smarter tier."""
    if first_token_budget_ms is not None and first_token_budget_ms <= GOLD_BUDGET_MS:
        return Tier.GOLD
    return Tier.SILVER


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
    tokens: int
    truncated: bool = False

    @property
    def tokens_per_s(self) -> float:
        generating_ms = self.total_ms - self.first_token_ms
        return (
            round((self.tokens - 1) * 1000 / generating_ms, 1)
            if self.tokens > 1 and generating_ms > 0
            else 0.0
        )


class Router:
    def __init__(self, endpoint: ModelEndpoint, endpoint_names: Mapping[Tier, str]) -> None:
        self._endpoint = endpoint
        self._names = endpoint_names

    def stream(
        self, request: ModelRequest, on_token: Callable[[str], None], scripted_line: Callable[[], str]
    ) -> Completion:
        started = time.perf_counter()
        first = tier_for_budget(request.first_token_budget_ms)
        for tier in FALLBACK_ORDER[FALLBACK_ORDER.index(first) :]:
            try:
                return self._stream_tier(tier, request, on_token, started, fallback=tier != first)
            except ModelUnavailable as exc:
                logger.warning(
                    "Model tier failed before its first token", extra={"tier": tier, "error": exc.message}
                )
        line = scripted_line()
        elapsed = _ms_since(started)
        on_token(line)
        return Completion(line, SCRIPTED, fallback=True, first_token_ms=elapsed, total_ms=elapsed, tokens=1)

    def _stream_tier(
        self,
        tier: Tier,
        request: ModelRequest,
        on_token: Callable[[str], None],
        started: float,
        fallback: bool,
    ) -> Completion:
        pieces: list[str] = []
        first_token_ms = 0.0
        deltas = self._endpoint.stream_chat(
            self._names[tier],
            request.messages,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            timeout_s=TIER_TIMEOUT_S[tier],
        )
        try:
            for delta in deltas:
                if not pieces:
                    first_token_ms = _ms_since(started)
                pieces.append(delta)
                on_token(delta)
        except ModelUnavailable:
            if not pieces:
                raise
            # Tokens already reached the player: keep what was said rather than start over.
            logger.warning("Model stream cut mid-way", extra={"tier": tier, "tokens": len(pieces)})
            return self._completion(tier, pieces, first_token_ms, started, fallback, truncated=True)
        if not pieces:
            raise ModelUnavailable(f"The {tier} tier returned an empty answer.")
        return self._completion(tier, pieces, first_token_ms, started, fallback)

    @staticmethod
    def _completion(
        tier: Tier,
        pieces: list[str],
        first_token_ms: float,
        started: float,
        fallback: bool,
        truncated: bool = False,
    ) -> Completion:
        return Completion(
            "".join(pieces).strip(),
            tier.value,
            fallback,
            first_token_ms,
            _ms_since(started),
            len(pieces),
            truncated,
        )


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
