"""`GET /worlds/{world}/regions/{region}`: a region as it is now, with its narration."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.http import caller, envelope_route, path_id, resolver, serve
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.world.narration import NarrationDeps, RegionNow, narrate_region

app = resolver()


@app.get("/worlds/<world_id>/regions/<region_id>")
@envelope_route(app, "world.regions.get")
def get_region(world_id: str, region_id: str) -> RegionNow:
    deps: NarrationDeps = app.context["deps"]
    return narrate_region(deps, caller(app), path_id(world_id, "world"), path_id(region_id, "region"))


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any], context: LambdaContext, deps: NarrationDeps | None = None
) -> dict[str, Any]:
    app.append_context(deps=deps or wiring.narration_deps())  # type: ignore[no-untyped-call]
    return serve(app, event, context)
