"""HTTP API over a world: its content (pushes with a dry-run diff), its clock."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.http import caller, envelope_route, json_body, path_id, query_flag, resolver, serve
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.world.clock import ClockChange, ClockReading
from aicore.world.content import WorldContent
from aicore.world.push import ContentSummary, PushDeps, PushPlan, content_summary, push_world
from aicore.world.state import StateDeps, change_clock

app = resolver()


def _push() -> PushDeps:
    """Built on first use: a push needs the knowledge base (and numpy), a state read does not."""
    deps: PushDeps | None = app.context.get("push")
    return deps or wiring.push_deps()


def _state() -> StateDeps:
    deps: StateDeps | None = app.context.get("state")
    return deps or wiring.state_deps()


@app.put("/worlds/<world_id>/clock")
@envelope_route(app, "world.clock.change")
def put_clock(world_id: str) -> ClockReading:
    return change_clock(_state(), caller(app), path_id(world_id, "world"), json_body(app, ClockChange))


@app.post("/worlds/<world_id>/content")
@envelope_route(app, "world.content.push")
def push(world_id: str) -> PushPlan:
    world = path_id(world_id, "world")
    return push_world(_push(), caller(app), world, json_body(app, WorldContent), query_flag(app, "dry_run"))


@app.get("/worlds/<world_id>/content")
@envelope_route(app, "world.content.get")
def content(world_id: str) -> ContentSummary:
    return content_summary(_push().content, caller(app), path_id(world_id, "world"))


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    push: PushDeps | None = None,
    state: StateDeps | None = None,
) -> dict[str, Any]:
    app.append_context(push=push, state=state)  # type: ignore[no-untyped-call]
    return serve(app, event, context)
