"""`session.history`, `session.join`, `session.leave`: a client's session actions, answered with one
frame; and `connection.resume`: what the player missed in its sessions while away."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from aicore import wiring
from aicore.errors import UnknownAction
from aicore.frames import ConnectionResume, SessionHistory, SessionJoin, SessionLeave, parse_client_frame
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.protocol import resume
from aicore.sessions.actions import REPLY_TYPES, SessionActionDeps, answer_session_action
from aicore.ws import WebSocketRequest, serve_frame

ANSWERS = {**REPLY_TYPES, "connection.resume": "connection.resumed"}


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any], context: LambdaContext, deps: SessionActionDeps | None = None
) -> dict[str, int]:
    action_deps = deps or wiring.session_action_deps()
    route_key = str((event.get("requestContext") or {}).get("routeKey"))
    action = route_key if route_key in ANSWERS else "session.action"

    def act(request: WebSocketRequest) -> BaseModel:
        frame = parse_client_frame(request.body)
        caller = request.caller(action_deps.clock)
        if isinstance(frame, ConnectionResume) and action_deps.resume_tokens is not None:
            return resume(
                frame,
                caller,
                request.connection_id,
                action_deps.service,
                action_deps.resume_tokens,
                action_deps.pusher,
                action_deps.clock,
            )
        if not isinstance(frame, SessionHistory | SessionJoin | SessionLeave):
            raise UnknownAction(f"This route does not handle {frame.action!r}.", {"action": frame.action})
        return answer_session_action(frame, caller, action_deps)

    return serve_frame(event, action_deps.pusher, action, ANSWERS.get(action, "error"), act)
