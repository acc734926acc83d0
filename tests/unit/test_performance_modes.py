"""Performance modes: who sets them, which wins, and what they change in an NPC turn."""

from __future__ import annotations

from typing import Any

import pytest

from aicore.auth import Caller, Role
from aicore.errors import Forbidden
from aicore.npc.turn import TurnDeps
from aicore.performance import NPC_SAY_PROFILES, PerformanceMode, PerformanceSettings
from aicore.world.performance import ModeChange, performance, set_player_mode, set_world_mode
from tests.fakes import FakeWorld, ScriptedEndpoint
from tests.npc_turns import say, turn_deps

PLAYER = Caller(subject="p1", world_id="demo")
STUDIO = Caller(subject="studio-1", world_id="demo", roles=(Role.STUDIO,))


@pytest.mark.parametrize(
    ("world", "player", "effective"),
    [
        (None, None, PerformanceMode.BALANCED),
        (PerformanceMode.QUALITY, None, PerformanceMode.QUALITY),
        (PerformanceMode.QUALITY, PerformanceMode.FAST, PerformanceMode.FAST),
        (None, PerformanceMode.FAST, PerformanceMode.FAST),
    ],
)
def test_the_players_own_mode_wins_over_the_worlds(
    world: PerformanceMode | None, player: PerformanceMode | None, effective: PerformanceMode
) -> None:
    assert PerformanceSettings(world_mode=world, player_mode=player).effective == effective


def test_modes_shift_the_budget_and_the_reply_length() -> None:
    fast, balanced, quality, premium = (NPC_SAY_PROFILES[m] for m in PerformanceMode)
    assert fast.first_token_budget_ms < balanced.first_token_budget_ms <= 100 < quality.first_token_budget_ms
    assert fast.max_tokens < balanced.max_tokens < quality.max_tokens < premium.max_tokens
    assert premium.first_token_budget_ms == quality.first_token_budget_ms  # silver, with longer replies


def test_only_the_studio_sets_the_worlds_mode_and_a_player_sets_their_own() -> None:
    world = FakeWorld()
    with pytest.raises(Forbidden):
        set_world_mode(world, PLAYER, "demo", ModeChange(mode=PerformanceMode.QUALITY))
    with pytest.raises(Forbidden):
        set_player_mode(world, PLAYER, "elsewhere", ModeChange(mode=PerformanceMode.FAST))

    set_world_mode(world, STUDIO, "demo", ModeChange(mode=PerformanceMode.QUALITY))
    view = set_player_mode(world, PLAYER, "demo", ModeChange(mode=PerformanceMode.FAST))

    assert (view.world_mode, view.player_mode, view.effective) == ("quality", "fast", "fast")
    assert view.max_tokens == NPC_SAY_PROFILES[PerformanceMode.FAST].max_tokens
    assert performance(world, STUDIO, "demo").effective == "quality"  # the studio has no mode of its own


def _reply(deps: TurnDeps) -> dict[str, Any]:
    [reply] = say(deps).of_type("npc.reply")
    data: dict[str, Any] = reply["data"]
    return data


@pytest.mark.parametrize(
    ("mode", "tier"), [(PerformanceMode.FAST, "gold"), (None, "gold"), (PerformanceMode.QUALITY, "silver")]
)
def test_a_turn_runs_in_the_players_mode(mode: PerformanceMode | None, tier: str) -> None:
    world, endpoint = FakeWorld(), ScriptedEndpoint()
    if mode is not None:
        set_player_mode(world, PLAYER, "demo", ModeChange(mode=mode))

    data = _reply(turn_deps(world, endpoint))

    effective = mode or PerformanceMode.BALANCED
    assert (data["tier"], data["mode"]) == (tier, effective)
    assert endpoint.calls == [tier]
    assert endpoint.last_max_tokens == NPC_SAY_PROFILES[effective].max_tokens


def test_the_reply_says_why_it_fell_back() -> None:
    data = _reply(turn_deps(FakeWorld(), ScriptedEndpoint(failing={"gold"})))
    assert (data["tier"], data["fallback"], data["fallback_reason"]) == ("silver", True, "gold: ModelError")
