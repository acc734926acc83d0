"""HTTP API over settings: global and per-world documents (versioned, audited), performance modes,
and the entitlements a player holds (some modes need one)."""

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.commerce.catalog import Catalog, load_catalog
from aicore.commerce.models import Entitlements
from aicore.commerce.service import entitlements
from aicore.http import caller, envelope_route, if_match, json_body, path_id, query_int, resolver, serve
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.platform.capabilities import Capabilities, capabilities
from aicore.platform.clients import ClientPolicy
from aicore.platform.settings import (
    GLOBAL_SCOPE,
    AuditEntry,
    ClientPolicyView,
    GlobalSettings,
    SettingsCache,
    SettingsDeps,
    SettingsView,
    WorldSettings,
    change_client_policy,
    change_global,
    change_world,
    read_client_policy,
    read_global,
    read_world,
    settings_audit,
    world_scope,
)
from aicore.settings import get_settings
from aicore.world.performance import ModeChange, PerformanceView, performance, set_player_mode, set_world_mode
from aicore.world.store import WorldStore

if TYPE_CHECKING:
    from aicore.aws.payments_store import DynamoPaymentsStore

app = resolver()


def _world() -> WorldStore:
    world: WorldStore = app.context["world"]
    return world


def _settings() -> SettingsDeps:
    settings: SettingsDeps = app.context["settings"]
    return settings


def _cache() -> SettingsCache:
    cache: SettingsCache = app.context["cache"]
    return cache


@app.get("/settings")
@envelope_route(app, "settings.global.get")
def get_global() -> SettingsView:
    return read_global(_settings(), caller(app))


@app.put("/settings")
@envelope_route(app, "settings.global.put")
def put_global() -> SettingsView:
    expected = if_match(app, required=True)
    assert expected is not None
    return change_global(_settings(), caller(app), json_body(app, GlobalSettings), expected)


@app.get("/settings/audit")
@envelope_route(app, "settings.global.audit")
def get_global_audit() -> list[AuditEntry]:
    return settings_audit(_settings().store, caller(app), GLOBAL_SCOPE, query_int(app, "limit"))


@app.get("/worlds/<world_id>/settings")
@envelope_route(app, "settings.world.get")
def get_world(world_id: str) -> SettingsView:
    return read_world(_settings(), caller(app), path_id(world_id, "world"))


@app.put("/worlds/<world_id>/settings")
@envelope_route(app, "settings.world.put")
def put_world(world_id: str) -> SettingsView:
    world = path_id(world_id, "world")
    expected = if_match(app, required=True)
    assert expected is not None
    return change_world(_settings(), caller(app), world, json_body(app, WorldSettings), expected)


@app.get("/worlds/<world_id>/settings/audit")
@envelope_route(app, "settings.world.audit")
def get_world_audit(world_id: str) -> list[AuditEntry]:
    who = caller(app)
    world = path_id(world_id, "world")
    who.require_world(world)
    return settings_audit(_settings().store, who, world_scope(world), query_int(app, "limit"))


@app.get("/capabilities")
@envelope_route(app, "settings.capabilities", any_client=True)
def get_capabilities() -> Capabilities:
    world = (app.current_event.query_string_parameters or {}).get("world")
    return capabilities(_cache(), None if world is None else path_id(world, "world"))


@app.get("/clients/policy")
@envelope_route(app, "settings.clients.get")
def get_client_policy() -> ClientPolicyView:
    return read_client_policy(_settings(), caller(app))


@app.put("/clients/policy")
@envelope_route(app, "settings.clients.put")
def put_client_policy() -> ClientPolicyView:
    expected = if_match(app, required=True)
    assert expected is not None
    return change_client_policy(_settings(), caller(app), json_body(app, ClientPolicy), expected)


@app.get("/worlds/<world_id>/performance")
@envelope_route(app, "settings.performance.get")
def get_performance(world_id: str) -> PerformanceView:
    return performance(_world(), _settings(), caller(app), path_id(world_id, "world"))


@app.put("/worlds/<world_id>/performance")
@envelope_route(app, "settings.performance.world")
def put_world_mode(world_id: str) -> PerformanceView:
    world = path_id(world_id, "world")
    return set_world_mode(_world(), _settings(), caller(app), world, json_body(app, ModeChange))


@app.put("/worlds/<world_id>/players/me/performance")
@envelope_route(app, "settings.performance.player")
def put_player_mode(world_id: str) -> PerformanceView:
    world = path_id(world_id, "world")
    change = json_body(app, ModeChange)
    return set_player_mode(_world(), _settings(), caller(app), world, change, _Entitlements())


@app.get("/players/me/entitlements")
@envelope_route(app, "settings.entitlements.list")
def get_entitlements() -> Entitlements:
    catalog: Catalog | None = app.context.get("catalog")
    return entitlements(
        _payments(), catalog or load_catalog(get_settings().payments_catalog), caller(app).subject
    )


class _Entitlements:
    """Asks the identity table only when a mode needs an entitlement."""

    def holds(self, player_id: str, entitlement: str) -> bool:
        return _payments().holds(player_id, entitlement)


def _payments() -> "DynamoPaymentsStore":
    """Built on first use: only entitlement questions need the identity table."""
    payments: DynamoPaymentsStore | None = app.context.get("payments")
    return payments or wiring.payments_store()


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    world: WorldStore | None = None,
    settings: SettingsDeps | None = None,
    cache: SettingsCache | None = None,
    payments: "DynamoPaymentsStore | None" = None,
    catalog: Catalog | None = None,
) -> dict[str, Any]:
    """`cache`: what `GET /capabilities` reads (it takes no token: at most one read per 30 s here)."""
    cache = cache or (wiring.settings_cache() if settings is None else SettingsCache(settings.store))
    settings = settings or wiring.settings_deps()
    app.append_context(  # type: ignore[no-untyped-call]
        world=world or wiring.world(),
        settings=settings,
        cache=cache,
        payments=payments,
        catalog=catalog,
    )
    return serve(app, event, context, clients=lambda: cache.everywhere().clients)
