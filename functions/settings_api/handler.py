"""HTTP API over settings: the performance mode of a world (studio) and of a player (themselves), and
the entitlements a player holds (some modes need one)."""

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.commerce.catalog import Catalog, load_catalog
from aicore.commerce.models import Entitlements
from aicore.commerce.service import entitlements
from aicore.http import caller, envelope_route, json_body, path_id, resolver, serve
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.settings import get_settings
from aicore.world.performance import (
    ModeChange,
    PerformanceView,
    performance,
    set_player_mode,
    set_world_mode,
)
from aicore.world.store import WorldStore

if TYPE_CHECKING:
    from aicore.aws.payments_store import DynamoPaymentsStore

app = resolver()


def _world() -> WorldStore:
    world: WorldStore = app.context["world"]
    return world


@app.get("/worlds/<world_id>/performance")
@envelope_route(app, "settings.performance.get")
def get_performance(world_id: str) -> PerformanceView:
    return performance(_world(), caller(app), path_id(world_id, "world"))


@app.put("/worlds/<world_id>/performance")
@envelope_route(app, "settings.performance.world")
def put_world_mode(world_id: str) -> PerformanceView:
    return set_world_mode(_world(), caller(app), path_id(world_id, "world"), json_body(app, ModeChange))


@app.put("/worlds/<world_id>/players/me/performance")
@envelope_route(app, "settings.performance.player")
def put_player_mode(world_id: str) -> PerformanceView:
    change = json_body(app, ModeChange)
    return set_player_mode(_world(), caller(app), path_id(world_id, "world"), change, _Entitlements())


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
    payments: "DynamoPaymentsStore | None" = None,
    catalog: Catalog | None = None,
) -> dict[str, Any]:
    app.append_context(world=world or wiring.world(), payments=payments, catalog=catalog)  # type: ignore[no-untyped-call]
    return serve(app, event, context)
