"""HTTP API over sessions."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.http import CORRELATION_ID_PATH, caller, envelope_route, resolver
from aicore.observability import entrypoint
from aicore.sessions.models import SessionView
from aicore.sessions.service import read_session

app = resolver()


@app.get("/sessions/<session_id>")
@envelope_route(app, "sessions.get")
def get_session(session_id: str) -> SessionView:
    return read_session(wiring.sessions(), caller(app), session_id)


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
