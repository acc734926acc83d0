"""Starts the tier flows: the dormancy sweep (schedule) archives, a rehydration request (event) restores."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.flows import FlowStarter
from aicore.observability import EVENT_CORRELATION_ID_PATH, entrypoint
from aicore.sessions.events import SessionRehydrationRequested
from aicore.sessions.flow_steps import start_rehydration
from aicore.sessions.tiers import Tiering


@entrypoint(correlation_id_path=EVENT_CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    tiering: Tiering | None = None,
    flows: FlowStarter | None = None,
) -> dict[str, Any]:
    flows = flows or wiring.flows()
    if "detail-type" in event:  # EventBridge: Session Rehydration Requested
        request = SessionRehydrationRequested.model_validate(event["detail"])
        return start_rehydration(flows, request).model_dump(mode="json")
    # EventBridge Scheduler: {"schedule": ..., "environment": ...}
    return (tiering or wiring.tiering()).sweep(flows).model_dump(mode="json")
