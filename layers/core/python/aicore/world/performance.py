"""Setting performance modes: a world's (its studio, or an admin) and a player's own."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from aicore.auth import Caller, Role
from aicore.errors import Forbidden
from aicore.performance import NPC_SAY_PROFILES, PerformanceMode, PerformanceSettings, TurnProfile
from aicore.world.models import PerformanceSetting
from aicore.world.store import WorldStore


class ModeChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: PerformanceMode


class PerformanceView(BaseModel):
    """The caller's modes in a world, the one in force, and what it means for an NPC turn."""

    world_id: str
    world_mode: PerformanceMode | None
    player_mode: PerformanceMode | None
    effective: PerformanceMode
    first_token_budget_ms: int
    max_tokens: int


def performance(world: WorldStore, caller: Caller, world_id: str) -> PerformanceView:
    caller.require_world(world_id)
    return _view(world_id, world.performance(world_id, caller.subject))


def set_world_mode(world: WorldStore, caller: Caller, world_id: str, change: ModeChange) -> PerformanceView:
    caller.require_world(world_id)
    if not (caller.has(Role.STUDIO) or caller.has(Role.ADMIN)):
        raise Forbidden("Only the world's studio (or an admin) sets its performance mode.")
    world.set_performance_mode(
        PerformanceSetting(world_id=world_id, mode=change.mode, updated_by=caller.subject)
    )
    return performance(world, caller, world_id)


def set_player_mode(world: WorldStore, caller: Caller, world_id: str, change: ModeChange) -> PerformanceView:
    caller.require_world(world_id)
    world.set_performance_mode(
        PerformanceSetting(
            world_id=world_id, player_id=caller.subject, mode=change.mode, updated_by=caller.subject
        )
    )
    return performance(world, caller, world_id)


def _view(world_id: str, settings: PerformanceSettings) -> PerformanceView:
    profile: TurnProfile = NPC_SAY_PROFILES[settings.effective]
    return PerformanceView(
        world_id=world_id,
        world_mode=settings.world_mode,
        player_mode=settings.player_mode,
        effective=settings.effective,
        first_token_budget_ms=profile.first_token_budget_ms,
        max_tokens=profile.max_tokens,
    )
