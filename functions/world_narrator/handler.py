"""The world-narrator: a region's weather or one of its facts changed (Weather Changed, World Fact
Changed); its narration is refreshed through the cache and announced (Region Narrated)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.observability import EVENT_CORRELATION_ID_PATH, entrypoint
from aicore.world.events import DETAIL_MODELS
from aicore.world.narrator import NarratorDeps, narrate_change


@entrypoint(correlation_id_path=EVENT_CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any], context: LambdaContext, deps: NarratorDeps | None = None
) -> dict[str, Any]:
    change = DETAIL_MODELS[event["detail-type"]].model_validate(event["detail"])
    return narrate_change(deps or wiring.narrator_deps(), change).model_dump(mode="json")
