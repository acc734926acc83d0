"""The world's schedule: announces weather changes (and sends what writers left in the outbox)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.observability import EVENT_CORRELATION_ID_PATH, entrypoint
from aicore.world.ticker import TickDeps, tick


class WorldsFailed(RuntimeError):
    """Some worlds could not be visited: the invocation fails, so it alarms and is retried."""


@entrypoint(correlation_id_path=EVENT_CORRELATION_ID_PATH)
def handler(event: dict[str, Any], context: LambdaContext, deps: TickDeps | None = None) -> dict[str, Any]:
    # EventBridge Scheduler: {"schedule": ..., "environment": ...}
    report = tick(deps or wiring.tick_deps(), context.aws_request_id)
    if report.failed:
        raise WorldsFailed(
            f"{len(report.failed)} of {report.worlds} worlds failed: {', '.join(report.failed[:10])}"
        )
    return report.model_dump(mode="json")
