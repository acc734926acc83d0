"""World pushes: `world.subscribe` / `world.unsubscribe` frames, and the fan-out of the world's
events (Weather Changed, World Fact Changed, Story Beat, Region Narrated) to subscribed connections as
`world.update` frames; a player's quest changes to their connections as `quest.update` frames."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.errors import UnknownAction
from aicore.frames import WorldSubscribe, WorldUnsubscribe, parse_client_frame
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.quests.pushes import PUSHED_EVENTS, QuestPushDeps, push_quest_update, quest_update
from aicore.world.events import DETAIL_MODELS
from aicore.world.pushes import UpdateDeps, answer_world_frame, fan_out, reply_type
from aicore.ws import WebSocketRequest, serve_frame


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    deps: UpdateDeps | None = None,
    quest_deps: QuestPushDeps | None = None,
) -> dict[str, Any]:
    if event.get("detail-type") in PUSHED_EVENTS:  # a player's quest changed: to their connections
        player_id, update = quest_update(event["detail-type"], event["detail"])
        return push_quest_update(quest_deps or wiring.quest_push_deps(), player_id, update).model_dump(
            mode="json"
        )
    update_deps = deps or wiring.update_deps()
    if "detail-type" in event:  # EventBridge: a change of the world, for its subscribers
        change = DETAIL_MODELS[event["detail-type"]].model_validate(event["detail"])
        return fan_out(update_deps, change).model_dump(mode="json")
    route_key = str((event.get("requestContext") or {}).get("routeKey"))

    def act(request: WebSocketRequest) -> Any:
        frame = parse_client_frame(request.body)
        if not isinstance(frame, WorldSubscribe | WorldUnsubscribe):
            raise UnknownAction(f"This route does not handle {frame.action!r}.", {"action": frame.action})
        return answer_world_frame(update_deps, frame, request.caller(update_deps.time), request.connection_id)

    return serve_frame(event, update_deps.pusher, route_key, reply_type(route_key), act)
