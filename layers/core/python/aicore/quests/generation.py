"""A quest written for one player by the silver tier: the giver's goals, the place and the time, and
a template to work from. The answer must be JSON of `GeneratedQuest`'s schema whose objectives name
only what the game server can report (the world's regions and NPCs, the templates' items and
creatures); a rejected answer is logged (never stored, never offered) and asked for once more,
then the template's own words are offered. Rewards, deadline and giver always come from the template:
a model never sets a price."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aicore.inputs import Identifier
from aicore.llm.router import SCRIPTED, Completion, ModelRequest
from aicore.llm.tiers import SILVER_BUDGET_MS
from aicore.llm.wire import ChatMessage
from aicore.observability import logger
from aicore.quests.models import Objective, Quest, QuestSource
from aicore.world.content import MAX_OBJECTIVES, ObjectiveKind, QuestTemplateSpec
from aicore.world.models import Npc

GENERATION_ATTEMPTS = 2  # the first answer and one retry, then the template
GENERATION_MAX_TOKENS = 400
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


class GeneratedObjective(BaseModel):
    model_config = ConfigDict(extra="forbid")

    objective_id: Identifier
    kind: ObjectiveKind
    target: Identifier
    count: int = Field(ge=1, le=20)
    description: str = Field(min_length=3, max_length=200)


class GeneratedQuest(BaseModel):
    """The schema the model answers in (its JSON schema is in the prompt)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=3, max_length=80)
    summary: str = Field(min_length=10, max_length=500)
    hook: str = Field(min_length=10, max_length=300)
    objectives: list[GeneratedObjective] = Field(min_length=1, max_length=MAX_OBJECTIVES)

    @field_validator("objectives")
    @classmethod
    def _ids_once(cls, objectives: list[GeneratedObjective]) -> list[GeneratedObjective]:
        if len({o.objective_id for o in objectives}) != len(objectives):
            raise ValueError("each objective id is used once")
        return objectives


class Router(Protocol):
    def stream(
        self, request: ModelRequest, on_token: Callable[[str], bool | None], scripted_line: Callable[[], str]
    ) -> Completion: ...


@dataclass(frozen=True)
class Known:
    """What objectives may name: targets the game server reports, by kind."""

    regions: frozenset[str]
    npcs: frozenset[str]
    things: frozenset[str]  # items and creatures the world's templates name

    @classmethod
    def of(cls, regions: Sequence[str], npcs: Sequence[str], templates: Sequence[QuestTemplateSpec]) -> Known:
        things = {
            o.target
            for t in templates
            for o in t.objectives
            if o.kind not in (ObjectiveKind.VISIT, ObjectiveKind.TALK)
        }
        return cls(frozenset(regions), frozenset(npcs), frozenset(things))

    def allows(self, kind: ObjectiveKind, target: str) -> bool:
        if kind is ObjectiveKind.VISIT:
            return target in self.regions
        if kind is ObjectiveKind.TALK:
            return target in self.npcs
        return target in self.things


class Rejected(ValueError):
    """The model's answer is not a quest we may offer (the reason names no content)."""


INSTRUCTIONS = (
    "You write one quest for a role-playing game, as JSON only (no prose), matching this JSON "
    "schema:\n{schema}\n"
    "Objective kinds: visit (a region), talk (an NPC), deliver, collect, defeat (an item or creature). "
    "Targets must be from these lists. Regions: {regions}. NPCs: {npcs}. Items and creatures: {things}."
)


def prompt(
    npc: Npc, template: QuestTemplateSpec, known: Known, world_lines: Sequence[str]
) -> list[ChatMessage]:
    schema = json.dumps(GeneratedQuest.model_json_schema(), separators=(",", ":"))
    system = INSTRUCTIONS.format(
        schema=schema,
        regions=", ".join(sorted(known.regions)),
        npcs=", ".join(sorted(known.npcs)),
        things=", ".join(sorted(known.things)) or "none",
    )
    base = template.model_dump(mode="json", include={"title", "summary", "hook", "objectives"})
    user = "\n".join(
        [
            f"The quest giver: {npc.name}, {npc.title or npc.persona}.",
            f"Their goals: {'; '.join(npc.goals) or 'none said'}.",
            *world_lines,
            f"Work from this quest, fitted to now: {json.dumps(base)}",
        ]
    )
    return [ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)]


def parse(answer: str, known: Known, secrets: Sequence[str]) -> GeneratedQuest:
    """The quest in the answer, or `Rejected` with why."""
    found = _JSON_OBJECT.search(answer)
    if found is None:
        raise Rejected("no JSON object")
    try:
        quest = GeneratedQuest.model_validate_json(found.group(0))
    except ValidationError as invalid:
        raise Rejected(f"{invalid.error_count()} schema problem(s)") from None
    unknown = [o.objective_id for o in quest.objectives if not known.allows(o.kind, o.target)]
    if unknown:
        raise Rejected(f"objectives name what the game cannot report: {', '.join(unknown)}")
    text = " ".join([quest.title, quest.summary, quest.hook, *(o.description for o in quest.objectives)])
    if any(secret and secret.lower() in text.lower() for secret in secrets):
        raise Rejected("it tells one of the giver's secrets")
    return quest


@dataclass
class GenerationDeps:
    router: Router


def generate(
    deps: GenerationDeps,
    npc: Npc,
    template: QuestTemplateSpec,
    known: Known,
    world_lines: Sequence[str],
    base: Quest,
) -> Quest:
    """`base` (the template's quest) rewritten by the model, or `base` itself if every answer was
    rejected or no tier answered."""
    messages = prompt(npc, template, known, world_lines)
    for attempt in range(1, GENERATION_ATTEMPTS + 1):
        completion = deps.router.stream(
            ModelRequest(
                messages,
                first_token_budget_ms=SILVER_BUDGET_MS,
                max_tokens=GENERATION_MAX_TOKENS,
                temperature=0.7,
            ),
            lambda _: None,
            lambda: "",
        )
        if completion.tier == SCRIPTED:
            logger.info(
                "No tier wrote a quest: the template is offered", extra={"template": template.template_id}
            )
            return base
        try:
            generated = parse(completion.text, known, npc.secrets)
        except Rejected as rejected:
            logger.warning(
                "Generated quest rejected",
                extra={"template": template.template_id, "attempt": attempt, "reason": str(rejected)},
            )
            continue
        return base.model_copy(
            update={
                "source": QuestSource.MODEL,
                "title": generated.title,
                "summary": generated.summary,
                "hook": generated.hook,
                "objectives": [Objective.model_validate(o.model_dump()) for o in generated.objectives],
            }
        )
    return base
