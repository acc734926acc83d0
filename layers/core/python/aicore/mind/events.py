"""Events of the mind on the bus."""

from __future__ import annotations

from pydantic import Field

from aicore.events import EventDetail
from aicore.inputs import Identifier


class ReflectionDue(EventDetail):
    """The importance an NPC was told by a player since its last reflection passed the threshold:
    reflection number `reflection` of the pair is due (its flow runs once per number)."""

    npc_id: Identifier
    player_id: Identifier
    reflection: int = Field(ge=0)
    importance: int = Field(ge=0)
