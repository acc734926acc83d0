"""Performance modes: how a world (set by its studio) and a player (for themselves) trade speed for depth.

A mode shifts the NPC turn's first-token budget (which picks the model tier, see
`aicore.llm.router`), how many tokens a reply may have, and whether the turn may spend a model
call (the embed tier) on its lore query: only `quality`, whose silver budget (1 s) absorbs it.
The player's own choice wins over the world's; with neither, the global settings' (`balanced`).
The world's mode and the default are settings (`aicore.platform.settings`); a player's is theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from aicore.llm.tiers import GOLD_BUDGET_MS, SILVER_BUDGET_MS


class PerformanceMode(StrEnum):
    FAST = "fast"  # gold, a tighter budget, short lines
    BALANCED = "balanced"  # gold, within its 100 ms budget
    QUALITY = "quality"  # silver: a smarter model, longer replies, up to a second to start
    # silver with the longest replies: a player's own mode, unlocked by the `premium` entitlement
    PREMIUM = "premium"


DEFAULT_MODE = PerformanceMode.BALANCED


@dataclass(frozen=True)
class TurnProfile:
    first_token_budget_ms: int
    max_tokens: int
    # The lore query may be embedded by the embed tier (one InvokeEndpoint before the model starts)
    # when the world's lore index holds its vectors; otherwise such an index is searched by keywords.
    lore_query_by_model: bool = False


NPC_SAY_PROFILES: dict[PerformanceMode, TurnProfile] = {
    PerformanceMode.FAST: TurnProfile(first_token_budget_ms=GOLD_BUDGET_MS * 8 // 10, max_tokens=40),
    PerformanceMode.BALANCED: TurnProfile(first_token_budget_ms=GOLD_BUDGET_MS, max_tokens=64),
    PerformanceMode.QUALITY: TurnProfile(
        first_token_budget_ms=SILVER_BUDGET_MS, max_tokens=160, lore_query_by_model=True
    ),
    PerformanceMode.PREMIUM: TurnProfile(
        first_token_budget_ms=SILVER_BUDGET_MS, max_tokens=320, lore_query_by_model=True
    ),
}
# Modes a player may choose only while holding an entitlement (bought: aicore.commerce); a world's
# own mode is never one of these.
MODE_ENTITLEMENTS: dict[PerformanceMode, str] = {PerformanceMode.PREMIUM: "premium"}


def modes_unlocked_by(entitlement: str) -> list[PerformanceMode]:
    return [mode for mode, needed in MODE_ENTITLEMENTS.items() if needed == entitlement]


class PerformanceSettings(BaseModel):
    """The modes that apply to one player in one world."""

    model_config = ConfigDict(frozen=True)

    world_mode: PerformanceMode | None = None
    player_mode: PerformanceMode | None = None
    default_mode: PerformanceMode = DEFAULT_MODE  # where neither chose: the global settings' mode

    @property
    def effective(self) -> PerformanceMode:
        return self.player_mode or self.world_mode or self.default_mode

    def npc_say(self) -> TurnProfile:
        return NPC_SAY_PROFILES[self.effective]
