"""The model tiers and the latency budgets that pick them (data only: no AWS client is imported here)."""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    GOLD = "gold"
    SILVER = "silver"


SCRIPTED = "scripted"  # the answer when no tier could give one: an in-character line
GOLD_BUDGET_MS = 100  # endpoints/gold.json latency_budget_ms
SILVER_BUDGET_MS = 1000  # endpoints/silver.json latency_budget_ms
# The first-token time each tier is built to meet: a tier that misses it is failing; one that was
# given less (a fallback with what is left of another tier's budget) is not.
OWN_BUDGET_MS: dict[Tier, int] = {Tier.GOLD: GOLD_BUDGET_MS, Tier.SILVER: SILVER_BUDGET_MS}


def tier_for_budget(first_token_budget_ms: int | None) -> Tier:
    """100 ms or less: gold. Anything else (or no budget): silver, the smarter tier."""
    if first_token_budget_ms is not None and first_token_budget_ms <= GOLD_BUDGET_MS:
        return Tier.GOLD
    return Tier.SILVER
