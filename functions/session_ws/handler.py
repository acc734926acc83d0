"""`session.history`, `session.join`, `session.leave`: a client's session actions, answered with one frame."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.envelope import operation
from aicore.errors import UnknownAction
from aicore.frames import SessionHistory, SessionJoin, SessionLeave, parse_client_frame
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.sessions.actions import REPLY_TYPES, SessionActionDeps, answer_session_action
from aicore.ws import WebSocketRequest, answer


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any], context: LambdaContext, deps: SessionActionDeps | None = None
) -> dict[str, int]:
    deps = deps or wiring.session_action_deps()
    request = WebSocketRequest.model_validate(event)
    action = request.request_context.route_key
    with operation(action, request.correlation_id) as op:
        frame = parse_client_frame(request.body)
        if not isinstance(frame, SessionHistory | SessionJoin | SessionLeave):
            raise UnknownAction(f"This route does not handle {frame.action!r}.", {"action": frame.action})
        op.succeed(answer_session_action(frame, request.connection_id, deps))
    return answer(deps.pusher, request, op, REPLY_TYPES.get(action, "error"))
