"""HTTP API over sessions: create, read, page, metadata (If-Match), participants, append, suspend."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from aicore import wiring
from aicore.http import (
    ClientPolicies,
    caller,
    envelope_route,
    idempotency_key,
    if_match,
    json_body,
    path_id,
    query_int,
    resolver,
    serve,
)
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.sessions.models import AppendResult, MessagePage, Participant, SessionHead, SessionView
from aicore.sessions.policy import DEFAULT_PAGE
from aicore.sessions.service import NewMessages, NewSession, SessionService, SuspendResult

app = resolver()


class MetadataPatch(BaseModel):
    """A JSON merge patch of the metadata: keys set to null are removed."""

    metadata: dict[str, Any]


def _service() -> SessionService:
    service: SessionService = app.context["service"]
    return service


def _session(session_id: str) -> str:
    return path_id(session_id, "session")


def _limit() -> int:
    limit = query_int(app, "limit")
    return DEFAULT_PAGE if limit is None else limit


@app.post("/sessions")
@envelope_route(app, "sessions.create", status=201)
def create_session() -> SessionHead:
    return _service().create(caller(app), json_body(app, NewSession))


@app.get("/sessions/<session_id>")
@envelope_route(app, "sessions.get")
def get_session(session_id: str) -> SessionView:
    return _service().get(caller(app), _session(session_id), _limit())


@app.patch("/sessions/<session_id>")
@envelope_route(app, "sessions.update")
def update_session(session_id: str) -> SessionHead:
    version = if_match(app, required=True)
    assert version is not None
    patch = json_body(app, MetadataPatch).metadata
    return _service().update_metadata(caller(app), _session(session_id), version, patch)


@app.post("/sessions/<session_id>/participants")
@envelope_route(app, "sessions.participants.add")
def add_participant(session_id: str) -> SessionHead:
    participant = json_body(app, Participant)
    return _service().add_participant(
        caller(app), _session(session_id), participant, if_match(app, required=False)
    )


@app.delete("/sessions/<session_id>/participants/<participant_id>")
@envelope_route(app, "sessions.participants.remove")
def remove_participant(session_id: str, participant_id: str) -> SessionHead:
    return _service().remove_participant(
        caller(app),
        _session(session_id),
        path_id(participant_id, "participant"),
        if_match(app, required=False),
    )


@app.post("/sessions/<session_id>/messages")
@envelope_route(app, "sessions.messages.append", status=201)
def append_messages(session_id: str) -> AppendResult:
    request = json_body(app, NewMessages)
    return _service().append(caller(app), _session(session_id), request, idempotency_key(app))


@app.get("/sessions/<session_id>/messages")
@envelope_route(app, "sessions.messages.list")
def list_messages(session_id: str) -> MessagePage:
    return _service().messages(caller(app), _session(session_id), query_int(app, "before"), _limit())


@app.post("/sessions/<session_id>/suspend")
@envelope_route(app, "sessions.suspend", status=202)
def suspend_session(session_id: str) -> SuspendResult:
    return _service().suspend(caller(app), _session(session_id))


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    service: SessionService | None = None,
    clients: ClientPolicies | None = None,
) -> dict[str, Any]:
    app.append_context(service=service or wiring.session_service())  # type: ignore[no-untyped-call]
    return serve(app, event, context, clients=clients or wiring.client_policy)
