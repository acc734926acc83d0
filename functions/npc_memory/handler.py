"""After an NPC turn (EventBridge: NPC Turn Completed): the NPC counts the turn, remembers both lines,
takes in how the turn landed, forgets within its bounds, may reflect and pass gossip on; the
player's proficiency grows by the phrases of a constructed language they heard."""

from typing import Any

from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.envelopes import EventBridgeEnvelope
from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.mind.service import MindDeps, ObservedTurn, observe_turn
from aicore.npc.events import NpcTurnCompleted
from aicore.observability import EVENT_CORRELATION_ID_PATH, entrypoint
from aicore.world.store import WorldStore


@entrypoint(correlation_id_path=EVENT_CORRELATION_ID_PATH)
@event_parser(model=NpcTurnCompleted, envelope=EventBridgeEnvelope)
def handler(
    event: NpcTurnCompleted,
    context: LambdaContext,
    world: WorldStore | None = None,
    mind: MindDeps | None = None,
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
    if event.phrases_heard:  # the player learns the NPC's language by hearing it, once per turn
        world.hear(event.world_id, event.player_id, event.phrases_heard, event.correlation_id)
    remembered = observe_turn(
        mind or wiring.mind_deps(),
        ObservedTurn(
            world_id=event.world_id,
            npc_id=event.npc_id,
            player_id=event.player_id,
            player_line=event.player_line,
            reply=event.reply,
            turn_id=event.correlation_id,
            occurred_at=event.occurred_at,
            memory_ids=event.memory_ids,
        ),
    )
    return {
        "npc_id": memory.npc_id,
        "player_id": memory.player_id,
        "turns": memory.turns,
        "mind": remembered.model_dump(mode="json") if remembered else None,
    }
