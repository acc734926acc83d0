"""`npc.say`: one NPC turn, streamed to the player token by token, stored in the session."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.envelope import operation
from aicore.frames import NpcSay, parse_frame
from aicore.npc.turn import TurnDeps, take_turn
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.ws import WebSocketRequest, answer


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(event: dict[str, Any], context: LambdaContext, deps: TurnDeps | None = None) -> dict[str, int]:
    deps = deps or wiring.turn_deps()
    request = WebSocketRequest.model_validate(event)
    with operation("npc.say", request.correlation_id) as op:
        frame = parse_frame(request.body, NpcSay)
        op.succeed(take_turn(frame, request.connection_id, request.correlation_id, deps))
    return answer(deps.pusher, request, op, "npc.reply")
