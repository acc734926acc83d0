"""NPC Reflection Due: starts the pair's reflection flow (once per reflection number)."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.envelopes import EventBridgeEnvelope
from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.flows import FlowStarter
from aicore.mind.events import ReflectionDue
from aicore.mind.reflection import start_reflection
from aicore.observability import EVENT_CORRELATION_ID_PATH, entrypoint


@entrypoint(correlation_id_path=EVENT_CORRELATION_ID_PATH)
@event_parser(model=ReflectionDue, envelope=EventBridgeEnvelope)
def handler(event: ReflectionDue, context: LambdaContext, flows: FlowStarter | None = None) -> dict[str, Any]:
    return start_reflection(flows or wiring.mind_flows(), event).model_dump(mode="json")
