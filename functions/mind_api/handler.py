"""HTTP API over NPC minds: memories (ranked, forgettable) and relationships."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.http import ClientPolicies, caller, envelope_route, path_id, query_int, resolver, serve
from aicore.mind import api
from aicore.mind.service import MindDeps
from aicore.observability import CORRELATION_ID_PATH, entrypoint

app = resolver()


def _deps() -> MindDeps:
    deps: MindDeps = app.context["mind"]
    return deps


def _query(name: str) -> str | None:
    return (app.current_event.query_string_parameters or {}).get(name)


@app.get("/worlds/<world_id>/npcs/<npc_id>/memories")
@envelope_route(app, "mind.memories.list")
def list_memories(world_id: str, npc_id: str) -> api.Memories:
    deps = _deps()
    return api.list_memories(
        deps.store,
        deps.world,
        deps.embedder,
        deps.policy,
        caller(app),
        path_id(world_id, "world"),
        path_id(npc_id, "NPC"),
        about=_query("about") or None,
        q=_query("q") or "",
        limit=query_int(app, "limit"),
        now=deps.clock(),
    )


@app.delete("/worlds/<world_id>/npcs/<npc_id>/memories/<memory_id>")
@envelope_route(app, "mind.memories.forget")
def forget_memory(world_id: str, npc_id: str, memory_id: str) -> api.Forgotten:
    return api.forget(
        _deps().store,
        caller(app),
        path_id(world_id, "world"),
        path_id(npc_id, "NPC"),
        path_id(memory_id, "memory"),
        about=_query("about") or None,
    )


@app.get("/worlds/<world_id>/npcs/<npc_id>/relationships/<player_id>")
@envelope_route(app, "mind.relationships.get")
def get_relationship(world_id: str, npc_id: str, player_id: str) -> api.RelationshipOut:
    return api.relationship(
        _deps().world,
        caller(app),
        path_id(world_id, "world"),
        path_id(npc_id, "NPC"),
        path_id(player_id, "player"),
    )


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    mind: MindDeps | None = None,
    clients: ClientPolicies | None = None,
) -> dict[str, Any]:
    app.append_context(mind=mind or wiring.mind_deps())  # type: ignore[no-untyped-call]
    return serve(app, event, context, clients=clients or wiring.client_policy)
