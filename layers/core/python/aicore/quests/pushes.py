"""Quest pushes: a player's quest changes (Quest Offered, Accepted, Progressed, Completed on the bus)
as `quest.update` frames to each of the player's live connections (the `player-connections` index:
one Query). Each event is claimed once before it is sent (a marker per event id, as world pushes
do), so a redelivered event sends nothing twice; a connection whose token expired gets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from aicore.clock import Clock, now
from aicore.connections import ClientPusher, PlayerConnections, push_to_player_connection
from aicore.quests.models import QuestAccepted, QuestCompleted, QuestEvent, QuestOffered, QuestProgressed
from aicore.topology import QUEST_ACCEPTED, QUEST_COMPLETED, QUEST_OFFERED, QUEST_PROGRESSED
from aicore.world.pushes import CLAIM_TTL_S, SubscriptionStore

QuestUpdateKind = Literal["offered", "accepted", "progressed", "completed"]
PUSHED_EVENTS: dict[str, tuple[QuestUpdateKind, type[QuestEvent]]] = {
    QUEST_OFFERED: ("offered", QuestOffered),
    QUEST_ACCEPTED: ("accepted", QuestAccepted),
    QUEST_PROGRESSED: ("progressed", QuestProgressed),
    QUEST_COMPLETED: ("completed", QuestCompleted),
}


class QuestUpdate(BaseModel):
    """The `data` of a `quest.update` frame (the fields of its kind only: the others are absent)."""

    kind: QuestUpdateKind
    world_id: str
    event_id: str
    occurred_at: str
    quest_id: str
    npc_id: str
    template_id: str
    title: str | None = None  # offered, completed
    expires_at: str | None = None  # accepted
    objective_id: str | None = None  # progressed: which objective, how far
    done: int | None = None
    count: int | None = None


class QuestPushed(BaseModel):
    event_id: str
    claimed: bool  # False: a redelivery (or a second consumer): nothing sent
    sent: int
    skipped: int  # connections gone or past their token's expiry


@dataclass
class QuestPushDeps:
    connections: PlayerConnections
    markers: SubscriptionStore  # its `claim`: the once-per-event markers world pushes keep too
    pusher: ClientPusher
    time: Clock = now


def quest_update(detail_type: str, detail: dict[str, Any]) -> tuple[str, QuestUpdate]:
    """The player an event concerns, and the update their connections get."""
    kind, model = PUSHED_EVENTS[detail_type]
    event = model.model_validate(detail)
    fields = event.model_dump(mode="json")
    # `kind` is the update's (a progress event's own `kind` is the objective's: not sent)
    update = QuestUpdate.model_validate(
        {**{k: v for k, v in fields.items() if k in QuestUpdate.model_fields}, "kind": kind}
    )
    return event.player_id, update


def push_quest_update(deps: QuestPushDeps, player_id: str, update: QuestUpdate) -> QuestPushed:
    real = deps.time().timestamp()
    if not deps.markers.claim(f"{update.world_id}#{update.event_id}", int(real) + CLAIM_TTL_S):
        return QuestPushed(event_id=update.event_id, claimed=False, sent=0, skipped=0)
    frame = {
        "type": "quest.update",
        "request_id": None,
        "data": update.model_dump(mode="json", exclude_none=True),
    }
    sent = skipped = 0
    for connection in deps.connections.of_player(update.world_id, player_id):
        if connection.expired(deps.time):
            skipped += 1
            continue
        delivered = push_to_player_connection(deps.pusher, connection, frame)
        sent, skipped = sent + delivered, skipped + (not delivered)
    return QuestPushed(event_id=update.event_id, claimed=True, sent=sent, skipped=skipped)
