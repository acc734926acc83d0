"""HTTP API over lore: upload a document (202; the ingestion flow takes it), list documents, search."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.http import (
    ClientPolicies,
    caller,
    envelope_route,
    idempotency_key,
    json_body,
    path_id,
    query_int,
    resolver,
    serve,
)
from aicore.knowledge.models import NewDocument
from aicore.knowledge.service import DocumentList, LoreService, SearchResults, Submitted
from aicore.observability import CORRELATION_ID_PATH, entrypoint

app = resolver()


def _service() -> LoreService:
    service: LoreService = app.context["service"]
    return service


def _query(name: str) -> str | None:
    return (app.current_event.query_string_parameters or {}).get(name)


@app.post("/worlds/<world_id>/lore/documents")
@envelope_route(app, "lore.documents.create", status=202)
def create_document(world_id: str) -> Submitted:
    world = path_id(world_id, "world")
    return _service().submit(caller(app), world, json_body(app, NewDocument), idempotency_key(app))


@app.get("/worlds/<world_id>/lore/documents")
@envelope_route(app, "lore.documents.list")
def list_documents(world_id: str) -> DocumentList:
    return _service().documents(caller(app), path_id(world_id, "world"))


@app.get("/worlds/<world_id>/lore/search")
@envelope_route(app, "lore.search")
def search(world_id: str) -> SearchResults:
    npc = _query("npc")
    return _service().search(
        caller(app),
        path_id(world_id, "world"),
        _query("q"),
        None if npc is None else path_id(npc, "NPC"),
        query_int(app, "limit"),
    )


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    service: LoreService | None = None,
    clients: ClientPolicies | None = None,
) -> dict[str, Any]:
    app.append_context(service=service or wiring.lore_service())  # type: ignore[no-untyped-call]
    return serve(app, event, context, clients=clients or wiring.client_policy)
