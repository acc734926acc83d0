"""A quest of one player: its objectives and their progress, its rewards, where it is in its life.

offered -> accepted -> completed | abandoned (by the player, or `expired` at its deadline).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from aicore.events import EventDetail
from aicore.world.content import ObjectiveKind, ObjectiveSpec, QuestTemplateSpec, RewardSpec

MAX_REPORT_IDS = 1000  # a quest's objectives add up to at most 10 x 100 advancing reports


class QuestState(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    ABANDONED = "abandoned"


class QuestSource(StrEnum):
    TEMPLATE = "template"  # the template's own words
    MODEL = "model"  # written for this player by the silver tier, validated


class Objective(ObjectiveSpec):
    done: int = Field(0, ge=0)

    @property
    def complete(self) -> bool:
        return self.done >= self.count


class QuestOffer(BaseModel):
    """What the NPC offers in conversation (`data.quest_offer` of `npc.reply`); `hook` is for the
    prompt, so the NPC mentions it, and never leaves the server."""

    quest_id: str
    npc_id: str
    title: str
    summary: str
    objectives: list[ObjectiveSpec]
    hook: str = Field("", exclude=True)


class Quest(BaseModel):
    quest_id: str
    world_id: str
    player_id: str
    npc_id: str
    template_id: str
    source: QuestSource
    title: str
    summary: str
    hook: str
    objectives: list[Objective]
    rewards: RewardSpec
    expires_after_days: int
    state: QuestState = QuestState.OFFERED
    offered_at: str
    accepted_at: str | None = None
    expires_at: str | None = None  # set on accept: the deadline
    ended_at: str | None = None
    ended_reason: str | None = None  # completed | abandoned | expired
    report_ids: list[str] = Field(default_factory=list, max_length=MAX_REPORT_IDS)
    task_token: str | None = Field(None, exclude=True)  # the quest's flow waits on it
    version: int = 0

    @property
    def objectives_met(self) -> bool:
        return all(o.complete for o in self.objectives)

    def offer(self) -> QuestOffer:
        return QuestOffer(
            quest_id=self.quest_id,
            npc_id=self.npc_id,
            title=self.title,
            summary=self.summary,
            objectives=[
                ObjectiveSpec.model_validate(o.model_dump(exclude={"done"})) for o in self.objectives
            ],
            hook=self.hook,
        )

    def view(self) -> QuestView:
        return QuestView.model_validate(self.model_dump(exclude={"hook", "report_ids", "task_token"}))


class QuestView(BaseModel):
    """A quest as its player sees it."""

    quest_id: str
    world_id: str
    player_id: str
    npc_id: str
    template_id: str
    source: QuestSource
    title: str
    summary: str
    objectives: list[Objective]
    rewards: RewardSpec
    expires_after_days: int
    state: QuestState
    offered_at: str
    accepted_at: str | None
    expires_at: str | None
    ended_at: str | None
    ended_reason: str | None
    version: int


class QuestList(BaseModel):
    quests: list[QuestView]


def from_template(
    template: QuestTemplateSpec, quest_id: str, world_id: str, player_id: str, at: str
) -> Quest:
    return Quest(
        quest_id=quest_id,
        world_id=world_id,
        player_id=player_id,
        npc_id=template.giver,
        template_id=template.template_id,
        source=QuestSource.TEMPLATE,
        title=template.title,
        summary=template.summary,
        hook=template.hook,
        objectives=[Objective.model_validate(o.model_dump()) for o in template.objectives],
        rewards=template.rewards,
        expires_after_days=template.expires_after_days,
        offered_at=at,
    )


# --- events (source aicore.quests); consumers deduplicate on `event_id` ------------------------


class QuestEvent(EventDetail):
    event_id: str  # `quest:<quest_id>:<what>`: the same however often it is sent
    quest_id: str
    player_id: str
    npc_id: str
    template_id: str


class QuestOffered(QuestEvent):
    source: QuestSource
    title: str


class QuestAccepted(QuestEvent):
    expires_at: str


class QuestProgressed(QuestEvent):
    report_id: str
    objective_id: str
    kind: ObjectiveKind
    target: str
    done: int
    count: int


class QuestCompleted(QuestEvent):
    title: str


class QuestAbandoned(QuestEvent):
    reason: str  # abandoned (by the player) | expired


class QuestRewardGranted(QuestEvent):
    items: dict[str, int]
    currency: int
    facts: dict[str, object]
    trust: int
    affinity: int
