"""Setting performance modes: a world's (its studio, or an admin) and a player's own.

A world's mode is one of its settings (`aicore.platform.settings`): these routes are a view over
them, without If-Match (a change applies to the version it read; the audit records it). A player's
own mode is theirs, stored beside the world's content and read with the turn's batch.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from aicore.auth import Caller
from aicore.errors import Forbidden, InvalidRequest
from aicore.performance import (
    MODE_ENTITLEMENTS,
    NPC_SAY_PROFILES,
    PerformanceMode,
    PerformanceSettings,
    TurnProfile,
)
from aicore.platform.settings import (
    GLOBAL_SCOPE,
    GlobalSettings,
    SettingsDeps,
    WorldSettings,
    update_world,
    world_scope,
)
from aicore.world.models import PerformanceSetting
from aicore.world.store import WorldStore


class EntitlementCheck(Protocol):
    """Whether a player holds an entitlement (aicore.commerce keeps them)."""

    def holds(self, player_id: str, entitlement: str) -> bool: ...


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


def performance(world: WorldStore, settings: SettingsDeps, caller: Caller, world_id: str) -> PerformanceView:
    caller.require_world(world_id)
    found = settings.store.read([GLOBAL_SCOPE, world_scope(world_id)])
    world_doc, global_doc = found.get(world_scope(world_id)), found.get(GLOBAL_SCOPE)
    modes = world.performance(world_id, caller.subject).model_copy(
        update={
            "world_mode": WorldSettings.model_validate(
                world_doc.values if world_doc else {}
            ).performance_mode,
            "default_mode": GlobalSettings.model_validate(
                global_doc.values if global_doc else {}
            ).performance_mode,
        }
    )
    return _view(world_id, modes)


def set_world_mode(
    world: WorldStore, settings: SettingsDeps, caller: Caller, world_id: str, change: ModeChange
) -> PerformanceView:
    if change.mode in MODE_ENTITLEMENTS:
        raise InvalidRequest(
            f"'{change.mode.value}' is a player's own mode, unlocked by an entitlement; a world's mode is "
            + ", ".join(m.value for m in PerformanceMode if m not in MODE_ENTITLEMENTS)
            + "."
        )
    update_world(settings, caller, world_id, lambda s: s.model_copy(update={"performance_mode": change.mode}))
    return performance(world, settings, caller, world_id)


def set_player_mode(
    world: WorldStore,
    settings: SettingsDeps,
    caller: Caller,
    world_id: str,
    change: ModeChange,
    entitlements: EntitlementCheck | None = None,
) -> PerformanceView:
    """The caller's own mode; one an entitlement unlocks only while they hold it (`entitlements`
    is asked only then)."""
    caller.require_world(world_id)
    needed = MODE_ENTITLEMENTS.get(change.mode)
    if needed is not None and (entitlements is None or not entitlements.holds(caller.subject, needed)):
        raise Forbidden(
            f"The '{change.mode.value}' mode comes with the '{needed}' entitlement, which you do not hold: "
            "buy it in the game's shop, then choose the mode again.",
            details={"entitlement": needed},
        )
    world.set_performance_mode(
        PerformanceSetting(
            world_id=world_id, player_id=caller.subject, mode=change.mode, updated_by=caller.subject
        )
    )
    return performance(world, settings, caller, world_id)


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
