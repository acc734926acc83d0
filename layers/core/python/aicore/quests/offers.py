"""What the turn does with a quest its NPC has ready: a line of the prompt, so the NPC brings it up."""

from __future__ import annotations

from aicore.quests.models import QuestOffer


def prompt_line(offer: QuestOffer | None) -> str:
    if offer is None or not offer.hook:
        return ""
    return (
        f"\nYou have a task for this traveller, '{offer.title}': {offer.hook} "
        "Bring it up in your own words if it fits; they may accept it."
    )
