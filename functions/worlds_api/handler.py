"""HTTP API over world content."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.http import caller, envelope_route, resolver
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.world.store import WorldStore

app = resolver()


def _world() -> WorldStore:
    world: WorldStore = app.context["world"]
    return world


@app.get("/worlds/<world_id>/npcs")
@envelope_route(app, "worlds.npcs.list")
def list_npcs(world_id: str) -> dict[str, Any]:
    caller(app).require_world(world_id)
    npcs = _world().list_npcs(world_id)
    return {"world_id": world_id, "npcs": [npc.model_dump(exclude={"fallback_lines"}) for npc in npcs]}


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(event: dict[str, Any], context: LambdaContext, world: WorldStore | None = None) -> dict[str, Any]:
    app.append_context(world=world or wiring.world())  # type: ignore[no-untyped-call]
    return app.resolve(event, context)
