"""Session Compaction Needed: the rolling summary from the silver tier, older messages into warm chunks."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.envelopes import EventBridgeEnvelope
from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.observability import EVENT_CORRELATION_ID_PATH, entrypoint
from aicore.sessions.compaction import CompactionStore, Summarizer, compact
from aicore.sessions.events import SessionCompactionNeeded
from aicore.sessions.policy import SessionPolicy


@entrypoint(correlation_id_path=EVENT_CORRELATION_ID_PATH)
@event_parser(model=SessionCompactionNeeded, envelope=EventBridgeEnvelope)
def handler(
    event: SessionCompactionNeeded,
    context: LambdaContext,
    store: CompactionStore | None = None,
    summarizer: Summarizer | None = None,
    policy: SessionPolicy | None = None,
) -> dict[str, Any]:
    outcome = compact(
        store or wiring.compaction_store(),
        summarizer or wiring.summarizer(),
        policy or wiring.session_policy(),
        event.session_id,
    )
    return outcome.model_dump(mode="json")
