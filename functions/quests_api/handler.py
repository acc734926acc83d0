"""HTTP API over quests: a player's quests, accepting and abandoning one; game servers' objective reports."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.http import (
    ClientPolicies,
    caller,
    correlation_id,
    envelope_route,
    json_body,
    path_id,
    resolver,
    serve,
)
from aicore.observability import CORRELATION_ID_PATH, entrypoint
from aicore.quests.models import QuestList, QuestView
from aicore.quests.service import (
    ObjectiveReport,
    QuestDeps,
    ReportResult,
    abandon,
    accept,
    list_quests,
    report_objective,
)

app = resolver()


def _deps() -> QuestDeps:
    deps: QuestDeps | None = app.context.get("quests")
    return deps or wiring.quest_deps()


@app.get("/players/me/quests")
@envelope_route(app, "quests.list")
def get_quests() -> QuestList:
    return list_quests(_deps().store, caller(app))


@app.post("/players/me/quests/<quest_id>/accept")
@envelope_route(app, "quests.accept")
def post_accept(quest_id: str) -> QuestView:
    return accept(_deps(), caller(app), path_id(quest_id, "quest"), correlation_id(app))


@app.post("/players/me/quests/<quest_id>/abandon")
@envelope_route(app, "quests.abandon")
def post_abandon(quest_id: str) -> QuestView:
    return abandon(_deps(), caller(app), path_id(quest_id, "quest"), correlation_id(app))


@app.post("/worlds/<world_id>/players/<player_id>/objectives")
@envelope_route(app, "quests.objectives.report")
def post_objective(world_id: str, player_id: str) -> ReportResult:
    world, player = path_id(world_id, "world"), path_id(player_id, "player")
    report = json_body(app, ObjectiveReport)
    return report_objective(_deps(), caller(app), world, player, report, correlation_id(app))


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    quests: QuestDeps | None = None,
    clients: ClientPolicies | None = None,
) -> dict[str, Any]:
    app.append_context(quests=quests)  # type: ignore[no-untyped-call]
    return serve(app, event, context, clients=clients or wiring.client_policy)
