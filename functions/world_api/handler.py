"""HTTP API over a world: its content (pushes with a dry-run diff), its state (clock, weather,
facts), fact changes (If-Match), clock operations, each region as it is now, narrated, and the
story so far (the storyteller's arcs)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.http import (
    ClientPolicies,
    caller,
    correlation_id,
    envelope_route,
    if_match,
    json_body,
    path_id,
    query_flag,
    query_int,
    resolver,
    serve,
)
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.world.clock import ClockChange, ClockReading
from aicore.world.content import WorldContent
from aicore.world.facts import FactChange, FactDeps, FactWritten, change_fact, read_fact
from aicore.world.narration import NarrationDeps, RegionNow, narrate_region
from aicore.world.push import ContentSummary, PushDeps, PushPlan, content_summary, push_world
from aicore.world.state import Fact, StateDeps, WorldStateView, change_clock, read_state
from aicore.world.story import StoryView, read_story

app = resolver()


def _push() -> PushDeps:
    """Built on first use: a push needs the knowledge base (and numpy), a state read does not."""
    deps: PushDeps | None = app.context.get("push")
    return deps or wiring.push_deps()


def _state() -> StateDeps:
    deps: StateDeps | None = app.context.get("state")
    return deps or wiring.state_deps()


def _facts() -> FactDeps:
    deps: FactDeps | None = app.context.get("facts")
    return deps or wiring.fact_deps()


@app.get("/worlds/<world_id>/state")
@envelope_route(app, "world.state.get")
def get_state(world_id: str) -> WorldStateView:
    return read_state(_state(), caller(app), path_id(world_id, "world"))


@app.put("/worlds/<world_id>/facts/<key>")
@envelope_route(app, "world.facts.put")
def put_fact(world_id: str, key: str) -> FactWritten:
    world, fact_key = path_id(world_id, "world"), path_id(key, "fact")
    expected = if_match(app, required=True)
    assert expected is not None
    change = json_body(app, FactChange)
    return change_fact(_facts(), caller(app), world, fact_key, change, expected, correlation_id(app))


@app.get("/worlds/<world_id>/facts/<key>")
@envelope_route(app, "world.facts.get")
def get_fact(world_id: str, key: str) -> Fact:
    world, fact_key = path_id(world_id, "world"), path_id(key, "fact")
    return read_fact(_facts().store, caller(app), world, fact_key, query_int(app, "version"))


@app.get("/worlds/<world_id>/regions/<region_id>")
@envelope_route(app, "world.regions.get")
def get_region(world_id: str, region_id: str) -> RegionNow:
    deps: NarrationDeps | None = app.context.get("narration")
    world, region = path_id(world_id, "world"), path_id(region_id, "region")
    return narrate_region(deps or wiring.narration_deps(), caller(app), world, region)


@app.get("/worlds/<world_id>/story")
@envelope_route(app, "world.story.get")
def get_story(world_id: str) -> StoryView:
    return read_story(_state().store, caller(app), path_id(world_id, "world"))


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
    facts: FactDeps | None = None,
    narration: NarrationDeps | None = None,
    clients: ClientPolicies | None = None,
) -> dict[str, Any]:
    app.append_context(push=push, state=state, facts=facts, narration=narration)  # type: ignore[no-untyped-call]
    return serve(app, event, context, clients=clients or wiring.client_policy)
