"""Where quests live: the world table, beside the player's relationships with the world's NPCs.

| sk | what |
| --- | --- |
| `QUEST#<player>#<quest>` | a quest of a player (one Query lists a player's quests in a world) |
| `QUESTOFFER#<npc>#<player>` | the quest an NPC has ready for a player: the turn reads it in its batch |

Every write of a quest is conditional on its `version` (a stale writer re-reads); the offer and its
pointer are written together, and an accept removes the pointer with the same transaction.
"""

from __future__ import annotations

from typing import Protocol

from aicore.quests.models import Quest, QuestOffer
from aicore.world.content import QuestTemplateSpec


def quest_sk(player_id: str, quest_id: str) -> str:
    return f"QUEST#{player_id}#{quest_id}"


def player_quests_prefix(player_id: str) -> str:
    return f"QUEST#{player_id}#"


def offer_sk(npc_id: str, player_id: str) -> str:
    return f"QUESTOFFER#{npc_id}#{player_id}"


class QuestStore(Protocol):
    def quest(self, world_id: str, player_id: str, quest_id: str) -> Quest | None: ...
    def player_quests(self, world_id: str, player_id: str) -> list[Quest]: ...
    def offered(self, world_id: str, npc_id: str, player_id: str) -> QuestOffer | None: ...
    def put_offer(self, quest: Quest) -> bool:
        """The new quest and the NPC's offer pointer, both new; False if the NPC already has an offer
        ready for the player (nothing is written)."""
        ...

    def save(self, quest: Quest, expected_version: int, clear_offer: bool = False) -> bool:
        """The whole quest (at `quest.version`) if the stored one is at `expected_version`; with
        `clear_offer`, the NPC's offer pointer goes in the same transaction. False: someone was first."""
        ...

    def set_token(self, world_id: str, player_id: str, quest_id: str, token: str) -> Quest | None:
        """The flow's task token on the quest while it is accepted (its version +1); the quest as
        stored after, or None if it is not accepted (completed, abandoned) or not there."""
        ...


class TemplateSource(Protocol):
    def quest_templates(self, world_id: str) -> list[QuestTemplateSpec]: ...


class FlowSignals(Protocol):
    def send_success(self, token: str, output: dict[str, object]) -> bool:
        """`SendTaskSuccess`; False if the token no longer waits (the flow moved on or ended)."""
        ...
