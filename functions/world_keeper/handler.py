"""Keeps worlds: the schedule announces weather changes (and sends what writers left in the outbox);
a game server's `World Fact Change Requested` event changes a fact, once per request."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from aicore import wiring
from aicore.observability import EVENT_CORRELATION_ID_PATH, entrypoint, logger
from aicore.world.facts import INVALID, FactChangeRequested, FactDeps, apply_requested_change
from aicore.world.ticker import TickDeps, tick


class WorldsFailed(RuntimeError):
    """Some worlds could not be visited: the invocation fails, so it alarms and is retried."""


@entrypoint(correlation_id_path=EVENT_CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    deps: TickDeps | None = None,
    facts: FactDeps | None = None,
) -> dict[str, Any]:
    if "detail-type" in event:  # EventBridge: World Fact Change Requested (source aicore.game)
        try:
            request = FactChangeRequested.model_validate(event["detail"])
        except ValidationError as invalid:  # a retry would read the same detail: logged, not retried
            logger.warning("Unreadable fact change request", extra={"problems": invalid.error_count()})
            return {"request_id": None, "outcome": INVALID}
        outcome = apply_requested_change(facts or wiring.fact_deps(), request)
        return {"request_id": request.request_id, "outcome": outcome}
    # EventBridge Scheduler: {"schedule": ..., "environment": ...}
    report = tick(deps or wiring.tick_deps(), context.aws_request_id)
    if report.failed:
        failed = ", ".join(report.failed[:10])
        raise WorldsFailed(f"{len(report.failed)} of {report.worlds} worlds failed: {failed}")
    return report.model_dump(mode="json")
