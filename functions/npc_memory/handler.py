"""After an NPC turn, the NPC remembers the player (EventBridge: NPC Turn Completed)."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.envelopes import EventBridgeEnvelope
from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.npc.turn import NpcTurnCompleted
from aicore.observability import EVENT_CORRELATION_ID_PATH, entrypoint
from aicore.world.store import WorldStore


@entrypoint(correlation_id_path=EVENT_CORRELATION_ID_PATH)
@event_parser(model=NpcTurnCompleted, envelope=EventBridgeEnvelope)
def handler(
    event: NpcTurnCompleted, context: LambdaContext, world: WorldStore | None = None
) -> dict[str, Any]:
    world = world or wiring.world()
    memory = world.remember(
        event.world_id,
        event.npc_id,
        event.player_id,
        event.player_line,
        event.occurred_at,
        event.correlation_id,
    )
    return {"npc_id": memory.npc_id, "player_id": memory.player_id, "turns": memory.turns}
