"""HTTP API over world content: NPCs (public profiles for players, character sheets for the studio)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.http import ClientPolicies, caller, envelope_route, path_id, resolver, serve
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.world import npcs
from aicore.world.store import WorldStore

app = resolver()


def _world() -> WorldStore:
    world: WorldStore = app.context["world"]
    return world


@app.get("/worlds/<world_id>/npcs")
@envelope_route(app, "worlds.npcs.list")
def list_npcs(world_id: str) -> npcs.NpcProfiles | npcs.NpcSheets:
    return npcs.list_npcs(_world(), caller(app), path_id(world_id, "world"))


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    world: WorldStore | None = None,
    clients: ClientPolicies | None = None,
) -> dict[str, Any]:
    app.append_context(world=world or wiring.world())  # type: ignore[no-untyped-call]
    return serve(app, event, context, clients=clients or wiring.client_policy)
