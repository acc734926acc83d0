"""How long the local model may take: the router's deadlines are the tiers' budgets times a scale.

The local model runs on a laptop's CPU, not the tiers' GPUs: reading an NPC prompt (~500 tokens)
takes it 0.5-3 s where a GPU takes tens of ms, so the deadlines stretch to match (gold's 100 ms
budget becomes 10 s at the default 100). Budgets still pick the tiers; the metrics report real
times. A busy or slow machine needs more: `aicore local --deadline-scale N`, or the environment
variable AICORE_LOCAL_DEADLINE_SCALE. Reaching a deadline gives the player a scripted line.
"""

from __future__ import annotations

import os

from aicore.llm.tiers import GOLD_BUDGET_MS, SILVER_BUDGET_MS

DEFAULT_DEADLINE_SCALE = 100.0
DEADLINE_SCALE_VARIABLE = "AICORE_LOCAL_DEADLINE_SCALE"
MAX_DEADLINE_SCALE = 1000.0  # the most `Settings.model_deadline_scale` takes


def parse_deadline_scale(value: str) -> float:
    try:
        scale = float(value)
    except ValueError:
        raise ValueError(f"the deadline scale must be a number, not {value!r}") from None
    if not 0 < scale <= MAX_DEADLINE_SCALE:
        raise ValueError(f"the deadline scale must be more than 0 and at most {MAX_DEADLINE_SCALE:g}")
    return scale


def deadline_scale_from_environment() -> float:
    """AICORE_LOCAL_DEADLINE_SCALE when set, else the default; ValueError when it is not a valid scale."""
    value = os.environ.get(DEADLINE_SCALE_VARIABLE)
    return DEFAULT_DEADLINE_SCALE if not value else parse_deadline_scale(value)


def first_token_deadlines_s(scale: float) -> tuple[float, float]:
    """Gold's and silver's first-token deadlines, in seconds, at `scale`."""
    return GOLD_BUDGET_MS * scale / 1000, SILVER_BUDGET_MS * scale / 1000
