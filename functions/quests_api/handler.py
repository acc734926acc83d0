"""HTTP API over quests: a player's quests, accepting and abandoning one; game servers' objective reports
(over HTTP, or `Quest Objective Reported` on the bus)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

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
from aicore.observability import HTTP_OR_EVENT_CORRELATION_ID_PATH, entrypoint, logger
from aicore.quests.models import QuestList, QuestView
from aicore.quests.service import (
    ObjectiveReport,
    ObjectiveReported,
    QuestDeps,
    ReportResult,
    abandon,
    accept,
    list_quests,
    report_from_bus,
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


@entrypoint(correlation_id_path=HTTP_OR_EVENT_CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    quests: QuestDeps | None = None,
    clients: ClientPolicies | None = None,
) -> dict[str, Any]:
    if "detail-type" in event:  # EventBridge: Quest Objective Reported (source aicore.game)
        try:
            reported = ObjectiveReported.model_validate(event["detail"])
        except ValidationError as invalid:  # a retry would read the same detail: logged, not retried
            logger.warning("Unreadable objective report", extra={"problems": invalid.error_count()})
            return {"report_id": None, "outcome": "invalid"}
        result = report_from_bus(quests or wiring.quest_deps(), reported)
        return {"outcome": "recorded", **result.model_dump(mode="json")}
    app.append_context(quests=quests)  # type: ignore[no-untyped-call]
    return serve(app, event, context, clients=clients or wiring.client_policy)
