"""Performance modes: who sets them, which wins, and what they change in an NPC turn."""

from __future__ import annotations

from typing import Any

import pytest

from aicore.auth import Caller, Role
from aicore.errors import Forbidden
from aicore.npc.turn import TurnDeps
from aicore.performance import NPC_SAY_PROFILES, PerformanceMode, PerformanceSettings
from aicore.platform.settings import GLOBAL_SCOPE, SettingsDeps, settings_audit, world_scope
from aicore.world.performance import ModeChange, performance, set_player_mode, set_world_mode
from tests.fakes import FakeWorld, ScriptedEndpoint
from tests.npc_turns import say, turn_deps
from tests.platform_fakes import FakeSettingsStore, roomy_settings

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
    world, settings = FakeWorld(), SettingsDeps(FakeSettingsStore())
    with pytest.raises(Forbidden):
        set_world_mode(world, settings, PLAYER, "demo", ModeChange(mode=PerformanceMode.QUALITY))
    with pytest.raises(Forbidden):
        set_player_mode(world, settings, PLAYER, "elsewhere", ModeChange(mode=PerformanceMode.FAST))

    set_world_mode(world, settings, STUDIO, "demo", ModeChange(mode=PerformanceMode.QUALITY))
    view = set_player_mode(world, settings, PLAYER, "demo", ModeChange(mode=PerformanceMode.FAST))

    assert (view.world_mode, view.player_mode, view.effective) == ("quality", "fast", "fast")
    assert view.max_tokens == NPC_SAY_PROFILES[PerformanceMode.FAST].max_tokens
    # the studio has no mode of its own; the world's mode is a setting, audited like any other
    assert performance(world, settings, STUDIO, "demo").effective == "quality"
    [entry] = settings_audit(settings.store, STUDIO, world_scope("demo"), None)
    assert [(c.field, c.before, c.after) for c in entry.changes] == [("performance_mode", None, "quality")]


def test_the_worlds_mode_in_settings_reaches_the_turn() -> None:
    # Given a world whose settings say `quality`
    store = FakeSettingsStore()
    set_world_mode(FakeWorld(), SettingsDeps(store), STUDIO, "demo", ModeChange(mode=PerformanceMode.QUALITY))
    store.documents[GLOBAL_SCOPE] = roomy_settings().documents[GLOBAL_SCOPE]
    endpoint = ScriptedEndpoint()
    # When a player with no mode of their own talks
    data = _reply(turn_deps(FakeWorld(), endpoint, settings=store))
    # Then the turn runs in the world's mode, on silver
    assert (data["mode"], endpoint.calls) == ("quality", ["silver"])


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
        set_player_mode(world, SettingsDeps(FakeSettingsStore()), PLAYER, "demo", ModeChange(mode=mode))

    data = _reply(turn_deps(world, endpoint))

    effective = mode or PerformanceMode.BALANCED
    assert (data["tier"], data["mode"]) == (tier, effective)
    assert endpoint.calls == [tier]
    assert endpoint.last_max_tokens == NPC_SAY_PROFILES[effective].max_tokens


def test_the_reply_says_why_it_fell_back() -> None:
    data = _reply(turn_deps(FakeWorld(), ScriptedEndpoint(failing={"gold"})))
    assert (data["tier"], data["fallback"], data["fallback_reason"]) == ("silver", True, "gold: ModelError")
