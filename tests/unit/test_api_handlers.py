"""HTTP handlers that had no unit test: settings-api, worlds-api, models-api, over fakes.

Each is called through its real entry point with `tests/events/http_request.json` aimed at one
route and the identity the authorizer verified; answers are the envelope.
"""

from __future__ import annotations

from typing import Any

from aicore.llm.endpoints_config import EngineSettings, ModelSource
from aicore.llm.tiers import Tier
from aicore.modelops.models import StagedWeights, VersionStatus, WeightsStatus
from aicore.performance import NPC_SAY_PROFILES, PerformanceMode
from aicore.platform.clients import ClientPolicy
from aicore.platform.settings import SettingsDeps, world_scope
from aicore.topology import MODEL_DEPLOY_FLOW
from aicore.world.models import Npc
from tests.fakes import FakeWorld
from tests.handlers import http_answer, http_event, invoke
from tests.model_fakes import FakeRegistry, FakeStarter
from tests.platform_fakes import FakeSettingsStore

PLAYER = {"subject": "p1", "world_id": "demo", "roles": "player"}
STUDIO = {"subject": "tools", "world_id": "demo", "roles": "studio"}
ADMIN = {"subject": "root", "world_id": "demo", "roles": "admin"}
ELSEWHERE = {"subject": "p2", "world_id": "elsewhere", "roles": "player"}
MIRA = Npc(
    npc_id="mira",
    world_id="demo",
    name="Mira",
    persona="Innkeeper.",
    speech_style="Warm.",
    greeting="Welcome!",
    fallback_lines=["One moment, love!"],
)


# One settings store per FakeWorld a test makes (the world is kept, so its id is never reused).
SETTINGS: dict[int, tuple[FakeWorld, SettingsDeps]] = {}


def _settings(world: FakeWorld, method: str, path: str, identity: dict[str, str], body: Any = None) -> Any:
    route = path.replace("/demo/", "/{world}/").replace("/elsewhere/", "/{world}/")
    _, settings = SETTINGS.setdefault(id(world), (world, SettingsDeps(FakeSettingsStore())))
    event = http_event(method, route, path, body=body, identity=identity)
    return http_answer(invoke("settings-api", event, world=world, settings=settings))


# --- settings-api ---------------------------------------------------------------------------------


def test_a_player_reads_the_modes_in_force_and_what_they_mean() -> None:
    status, body = _settings(FakeWorld(), "GET", "/worlds/demo/performance", PLAYER)

    assert (status, body["ok"], body["operation"]) == (200, True, "settings.performance.get")
    balanced = NPC_SAY_PROFILES[PerformanceMode.BALANCED]
    assert body["data"] == {
        "world_id": "demo",
        "world_mode": None,
        "player_mode": None,
        "effective": "balanced",
        "first_token_budget_ms": balanced.first_token_budget_ms,
        "max_tokens": balanced.max_tokens,
    }


def test_the_studio_sets_the_worlds_mode_and_a_player_their_own() -> None:
    world = FakeWorld()

    status, body = _settings(world, "PUT", "/worlds/demo/performance", STUDIO, {"mode": "quality"})
    assert (status, body["data"]["world_mode"], body["data"]["effective"]) == (200, "quality", "quality")

    status, body = _settings(world, "PUT", "/worlds/demo/players/me/performance", PLAYER, {"mode": "fast"})
    assert (status, body["data"]["world_mode"], body["data"]["player_mode"]) == (200, "quality", "fast")
    assert body["data"]["effective"] == "fast"
    assert world.modes[("demo", "p1")].updated_by == "p1"


def test_a_player_may_not_set_the_worlds_mode() -> None:
    world = FakeWorld()
    status, body = _settings(world, "PUT", "/worlds/demo/performance", PLAYER, {"mode": "fast"})
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert world.modes == {}
    assert SETTINGS[id(world)][1].store.read([world_scope("demo")]) == {}


def test_modes_of_another_world_are_not_yours_to_read() -> None:
    status, body = _settings(FakeWorld(), "GET", "/worlds/demo/performance", ELSEWHERE)
    assert (status, body["error"]["code"]) == (403, "forbidden")


def test_an_unknown_mode_is_a_bad_request_that_names_the_field_and_echoes_nothing() -> None:
    world = FakeWorld()
    status, body = _settings(world, "PUT", "/worlds/demo/performance", STUDIO, {"mode": "ludicrous-speed"})
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert "ludicrous-speed" not in str(body)
    assert SETTINGS[id(world)][1].store.read([world_scope("demo")]) == {}


# --- worlds-api -----------------------------------------------------------------------------------


def _worlds(world: FakeWorld, path: str, identity: dict[str, str]) -> Any:
    event = http_event("GET", "/worlds/{world}/npcs", path, identity=identity)
    return http_answer(invoke("worlds-api", event, world=world, clients=ClientPolicy))


def test_the_npcs_of_your_world_are_listed_without_their_scripted_lines() -> None:
    world = FakeWorld()
    world.put_npc(MIRA)
    world.put_npc(MIRA.model_copy(update={"world_id": "elsewhere", "npc_id": "borin"}))

    status, body = _worlds(world, "/worlds/demo/npcs", PLAYER)

    assert (status, body["operation"]) == (200, "worlds.npcs.list")
    assert body["data"]["world_id"] == "demo"
    assert [n["npc_id"] for n in body["data"]["npcs"]] == ["mira"]
    assert "fallback_lines" not in body["data"]["npcs"][0]


def test_the_npcs_of_another_world_are_forbidden() -> None:
    status, body = _worlds(FakeWorld(), "/worlds/demo/npcs", ELSEWHERE)
    assert (status, body["error"]["code"]) == (403, "forbidden")


# --- models-api -----------------------------------------------------------------------------------


def _models(
    registry: FakeRegistry,
    starter: FakeStarter,
    method: str,
    route: str,
    path: str,
    identity: dict[str, str],
    body: Any = None,
) -> Any:
    event = http_event(method, route, path, body=body, identity=identity)
    return http_answer(invoke("models-api", event, registry=registry, flows=starter, clients=ClientPolicy))


SPEC = {
    "version": "v1",
    "model": ModelSource(
        hf_model_id="Qwen/Qwen3-4B-AWQ", revision="74d4bd2bd4bff9cafc9345221320bffb08b406a3"
    ).model_dump(mode="json"),
    "engine": EngineSettings(max_model_len=4096, max_batch_size=32, quantization="awq").model_dump(
        mode="json"
    ),
}


def test_an_admin_registers_a_version_and_starts_its_deployment() -> None:
    registry, starter = FakeRegistry(), FakeStarter()

    # When an admin registers v1 for gold, then deploys it
    status, registered = _models(
        registry, starter, "POST", "/models/{tier}/versions", "/models/gold/versions", ADMIN, SPEC
    )
    staged = StagedWeights(
        status=WeightsStatus.STAGED, s3_uri="s3://models/hf/Qwen/Qwen3-4B-AWQ/rev/", files=3
    )
    registry.record_weights(Tier.GOLD, "v1", staged)  # the import flow's outcome
    deploy_path = "/models/gold/versions/v1/deploy"
    route = "/models/{tier}/versions/{version}/deploy"
    deploy_status, deploying = _models(registry, starter, "POST", route, deploy_path, ADMIN)

    # Then the version is registered (201), its deployment flow started (202), and the tier is held
    assert (status, registered["data"]["version"], registered["data"]["status"]) == (201, "v1", "registered")
    assert deploy_status == 202, deploying
    [(machine, name, payload)] = starter.started
    assert machine == MODEL_DEPLOY_FLOW
    assert payload["deployment"]["version"] == "v1"
    assert deploying["data"]["execution_arn"].endswith(name)
    assert registry.state(Tier.GOLD).deploying is not None
    version = registry.get_version(Tier.GOLD, "v1")
    assert version is not None
    assert version.status is VersionStatus.DEPLOYING


def test_an_admin_reads_a_tier_and_a_version() -> None:
    registry, starter = FakeRegistry(), FakeStarter()
    _models(registry, starter, "POST", "/models/{tier}/versions", "/models/gold/versions", ADMIN, SPEC)

    status, tier = _models(registry, starter, "GET", "/models/{tier}", "/models/gold", ADMIN)
    assert status == 200
    assert [v["version"] for v in tier["data"]["versions"]] == ["v1"]
    status, version = _models(
        registry, starter, "GET", "/models/{tier}/versions/{version}", "/models/gold/versions/v1", ADMIN
    )
    assert (status, version["data"]["status"]) == (200, "registered")


def test_models_answer_clear_errors_in_the_envelope() -> None:
    registry, starter = FakeRegistry(), FakeStarter()

    # an unknown tier, a player, a version nobody registered, a rollback with nothing to go back to
    status, body = _models(registry, starter, "GET", "/models/{tier}", "/models/platinum", ADMIN)
    assert (status, body["error"]["code"]) == (404, "not_found")
    assert "gold" in body["error"]["message"]
    for not_admin in (PLAYER, STUDIO):  # model management is for admins only
        status, body = _models(registry, starter, "GET", "/models/{tier}", "/models/gold", not_admin)
        assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = _models(
        registry, starter, "GET", "/models/{tier}/versions/{version}", "/models/gold/versions/v9", ADMIN
    )
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body = _models(
        registry, starter, "POST", "/models/{tier}/rollback", "/models/gold/rollback", ADMIN
    )
    assert (status, body["error"]["code"]) == (409, "conflict")
    assert starter.started == []
