"""The storyteller: a world event (World Fact Changed, Weather Changed) or the schedule's visit
advances the world's story arcs; each beat is narrated and announced (Story Beat)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.observability import EVENT_CORRELATION_ID_PATH, entrypoint
from aicore.world.events import DETAIL_MODELS
from aicore.world.story import StoryDeps, direct_all, direct_event


@entrypoint(correlation_id_path=EVENT_CORRELATION_ID_PATH)
def handler(event: dict[str, Any], context: LambdaContext, deps: StoryDeps | None = None) -> dict[str, Any]:
    story = deps or wiring.story_deps()
    if "detail-type" in event:  # EventBridge: a change of the world
        change = DETAIL_MODELS[event["detail-type"]].model_validate(event["detail"])
        return direct_event(story, change).model_dump(mode="json")
    # EventBridge Scheduler: {"schedule": ..., "environment": ...}: every world, at this game minute
    reports = direct_all(story, story.store.worlds(), context.aws_request_id)
    return {"worlds": len(reports), "beats": [b for r in reports for b in r.beats]}
