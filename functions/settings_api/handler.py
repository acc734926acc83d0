"""HTTP API over settings: the performance mode of a world (studio) and of a player (themselves)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.http import caller, envelope_route, json_body, path_id, resolver, serve
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.world.performance import ModeChange, PerformanceView, performance, set_player_mode, set_world_mode
from aicore.world.store import WorldStore

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
    return set_player_mode(_world(), caller(app), path_id(world_id, "world"), json_body(app, ModeChange))


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(event: dict[str, Any], context: LambdaContext, world: WorldStore | None = None) -> dict[str, Any]:
    app.append_context(world=world or wiring.world())  # type: ignore[no-untyped-call]
    return serve(app, event, context)
