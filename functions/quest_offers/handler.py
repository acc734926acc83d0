"""After an NPC turn (EventBridge: NPC Turn Completed): the quest the NPC offers the player next is
made ready (written by silver, validated, else the template), so the next turn offers it with no
model call of its own. A redelivered turn finds the offer ready and changes nothing."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.envelopes import EventBridgeEnvelope
from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.events import EventDetail
from aicore.observability import EVENT_CORRELATION_ID_PATH, entrypoint
from aicore.quests.service import OfferDeps, prepare_offer


class TurnSeen(EventDetail):
    """What this consumer reads of `NPC Turn Completed` (`aicore.npc.turn.NpcTurnCompleted`), without
    importing the turn (and all it needs) at cold start."""

    npc_id: str
    player_id: str


@entrypoint(correlation_id_path=EVENT_CORRELATION_ID_PATH)
@event_parser(model=TurnSeen, envelope=EventBridgeEnvelope)
def handler(event: TurnSeen, context: LambdaContext, deps: OfferDeps | None = None) -> dict[str, Any]:
    offer = prepare_offer(
        deps or wiring.quest_offer_deps(), event.world_id, event.npc_id, event.player_id, event.correlation_id
    )
    return {"quest_id": offer.quest_id if offer else None}
