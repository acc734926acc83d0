"""`npc.say`: one NPC turn, streamed to the player token by token, stored in the session;
`session.scene`: NPCs of a session talk among themselves for a few lines (aicore.npc.scenes);
`npc.listen`: the player speaks in chunks; the transcript is the line of a turn (aicore.npc.listen)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.frames import NpcListen, NpcSay, SessionScene, parse_frame
from aicore.npc.listen import LISTENING_FRAME, ListenDeps, listen
from aicore.npc.requests import take_turn_once
from aicore.npc.scenes import SceneResult, play_scene_once
from aicore.npc.turn import TurnDeps
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.platform.clients import OutdatedWarnings
from aicore.ws import Deferred, WebSocketRequest, connection_route, serve_frame

WARNINGS = OutdatedWarnings()  # `connection.warning` once per connection (in this container)


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    deps: TurnDeps | None = None,
    listen_deps: ListenDeps | None = None,
) -> dict[str, int]:
    turn_deps = deps or wiring.turn_deps()

    def turn(request: WebSocketRequest) -> Deferred:
        frame = parse_frame(request.body, NpcSay)
        caller = request.caller(turn_deps.clock)
        policy = turn_deps.settings.for_world(caller.world_id).everywhere.clients
        WARNINGS.warn(turn_deps.pusher, request.connection_id, request.request_context.authorizer, policy)
        # a repeated request_id gets the first answer, never a second turn (aicore.npc.requests)
        outcome = take_turn_once(frame, caller, request.connection_id, request.correlation_id, turn_deps)
        return Deferred(outcome.reply, outcome.announce)

    def scene(request: WebSocketRequest) -> SceneResult:
        frame = parse_frame(request.body, SessionScene)
        return play_scene_once(frame, request.caller(turn_deps.clock), request.connection_id, turn_deps)

    def chunk(request: WebSocketRequest) -> Deferred:
        frame = parse_frame(request.body, NpcListen)
        caller = request.caller(turn_deps.clock)
        now_s = int(turn_deps.clock().timestamp())
        heard = listen(
            frame, caller, request.connection_id, request.correlation_id, turn_deps,
            listen_deps or wiring.listen_deps(), now_s,
        )  # fmt: skip
        if heard.turn is None:
            return Deferred(heard.listening, reply_type=LISTENING_FRAME)
        return Deferred(heard.turn.reply, heard.turn.announce)

    route = connection_route(event)
    if route == "session.scene":
        return serve_frame(event, turn_deps.pusher, "session.scene", "session.scene", scene)
    if route == "npc.listen":
        return serve_frame(event, turn_deps.pusher, "npc.listen", "npc.reply", chunk)
    return serve_frame(event, turn_deps.pusher, "npc.say", "npc.reply", turn)
