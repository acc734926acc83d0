"""NPCs, lore facts and NPC memories."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, Field

from aicore.clock import utc_now
from aicore.knowledge.models import IndexPointer
from aicore.language.proficiency import Proficiency
from aicore.mind.emotions import EmotionState, Temperament
from aicore.mind.relationship import Relationship
from aicore.performance import PerformanceMode, PerformanceSettings
from aicore.voice.audio import NpcVoice

if TYPE_CHECKING:  # quests build on world content: a runtime import would be a cycle
    from aicore.quests.models import QuestOffer


class NpcProfile(BaseModel):
    """What anyone in the world may see of an NPC: the public face of its character sheet."""

    npc_id: str
    world_id: str
    name: str
    title: str = Field("", description="What players know them as: 'Innkeeper of the Gilded Goose'.")
    greeting: str
    faction: str | None = None
    region: str | None = None


class Npc(NpcProfile):
    """The whole character sheet. Its private part (everything not in `NpcProfile`) is for the
    model, the studio and admins only: it never reaches a player."""

    persona: str = Field(description="Who they are, in a sentence or two, for the model.")
    speech_style: str = Field(description="How they talk.")
    fallback_lines: list[str] = Field(
        default_factory=list, description="In-character lines for when no model can answer."
    )
    secrets: list[str] = Field(
        default_factory=list, description="What they know and never say outright; they may hint."
    )
    temperament: Temperament | None = Field(
        None, description="The baseline of their emotions, which they return to (the mind's default if none)."
    )
    goals: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list,
        max_length=5,
        description="What they want, in a few words each: quests generated for players serve these.",
    )
    trusts: dict[str, Annotated[int, Field(ge=-100, le=100)]] = Field(
        default_factory=dict,
        description="Trust in other NPCs (-100..100) where it differs from the default: gossip weighs by it.",
    )
    voice: NpcVoice = Field(
        default_factory=NpcVoice,
        description="How they sound when a player asks for voice: a Polly voice id and engine.",
    )

    def profile(self) -> NpcProfile:
        return NpcProfile.model_validate(self.model_dump(include=set(NpcProfile.model_fields)))


PRIVATE_NPC_FIELDS = frozenset(Npc.model_fields) - frozenset(NpcProfile.model_fields)


class LoreFact(BaseModel):
    fact_id: str
    world_id: str
    text: str


class NpcMemory(BaseModel):
    """What an NPC remembers of one player."""

    world_id: str
    npc_id: str
    player_id: str
    turns: int = 0
    last_player_line: str = ""
    last_seen: str = Field(default_factory=utc_now)


class PerformanceSetting(BaseModel):
    """A stored performance mode: the world's (`player_id` None) or one player's."""

    world_id: str
    player_id: str | None = None
    mode: PerformanceMode
    updated_by: str
    updated_at: str = Field(default_factory=utc_now)


@dataclass(frozen=True)
class TurnContext:
    """Everything an NPC turn reads from the world, read together in one round trip."""

    npc: Npc | None
    memory: NpcMemory | None
    performance: PerformanceSettings
    relationship: Relationship | None = None  # what the NPC thinks of the player (None: they never met)
    emotion: EmotionState | None = None  # the NPC's emotions when last stirred (None: at rest)
    # The current knowledge index of the world and of the global corpus (those that have one).
    knowledge: tuple[IndexPointer, ...] = ()
    proficiency: Proficiency | None = None  # the player's in the world's languages (None: heard none)
    quest_offer: QuestOffer | None = None  # the quest the NPC has ready for the player, if any
