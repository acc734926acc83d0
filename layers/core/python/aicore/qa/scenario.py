"""A QA scenario, as data (`qa/scenarios/*.yaml`): what synthetic players say, what must hold, how many.

- `conversation`: the lines a player says, in order, each to one NPC (a player says the first
  `load.turns_each` of them, cycling if there are fewer).
- `persona`: phrases no NPC may say (breaking the fourth wall: "as an AI", "language model", ...)
  and the budget each reply must keep (characters, first-token and total latency); `npcs` adds
  per-NPC forbidden phrases and may tighten or loosen the budget.
- `quests`: world checks: a quest of a giver can be accepted, its objectives reported through
  the public HTTP routes, and read back completed.
- `load`: players, turns each, ramp (players start spread over `ramp_s`), batch size (players per
  batch: one item of the flow's Distributed Map).

Parsed strictly (unknown fields are errors) so a typo fails loudly, with the field's path.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]

# What an NPC of a fantasy world never says: it would break the fourth wall.
FOURTH_WALL = (
    "as an ai",
    "i am an ai",
    "i'm an ai",
    "an ai assistant",
    "ai language model",
    "language model",
    "artificial intelligence",
    "chatbot",
    "i am a bot",
    "i'm a bot",
    "openai",
    "my training data",
    "i was trained",
    "i am a computer program",
    "as a virtual assistant",
    "fourth wall",
)

MAX_PLAYERS = 1000
MAX_TURNS_EACH = 50
MAX_BATCH = 100


class Budget(BaseModel):
    """What one reply may cost: its length and its latency, as the player sees them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_chars: int = Field(default=1200, ge=1, le=20_000)
    max_first_token_ms: float = Field(default=5_000, gt=0, le=600_000)
    max_total_ms: float = Field(default=30_000, gt=0, le=600_000)


class BudgetOverride(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_chars: int | None = Field(default=None, ge=1, le=20_000)
    max_first_token_ms: float | None = Field(default=None, gt=0, le=600_000)
    max_total_ms: float | None = Field(default=None, gt=0, le=600_000)


class Persona(BaseModel):
    """Checks of every reply: in character (no forbidden phrase) and within the budget."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    forbidden_phrases: tuple[Phrase, ...] = FOURTH_WALL
    extra_forbidden_phrases: tuple[Phrase, ...] = ()
    budget: Budget = Budget()
    allow_fallback: bool = True  # a scripted line (no model answered) is in character; say False to fail it


class NpcChecks(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    forbidden_phrases: tuple[Phrase, ...] = ()
    budget: BudgetOverride = BudgetOverride()


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    npc: Slug
    text: str = Field(min_length=1, max_length=500)


class QuestCheck(BaseModel):
    """A world check: the giver's quest is accepted, its objectives reported, and read completed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    giver: Slug
    complete_within_s: float = Field(default=120, gt=0, le=3600)


class Load(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    players: int = Field(default=1, ge=1, le=MAX_PLAYERS)
    turns_each: int = Field(default=1, ge=1, le=MAX_TURNS_EACH)
    ramp_s: float = Field(default=0, ge=0, le=3600)
    batch_size: int = Field(default=10, ge=1, le=MAX_BATCH)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Slug
    description: str = Field(default="", max_length=2000)
    conversation: tuple[Line, ...] = Field(min_length=1, max_length=MAX_TURNS_EACH)
    persona: Persona = Persona()
    npcs: dict[Slug, NpcChecks] = Field(default_factory=dict)
    quests: tuple[QuestCheck, ...] = Field(default=(), max_length=10)
    load: Load = Load()

    @model_validator(mode="after")
    def _npcs_are_spoken_to(self) -> Scenario:
        spoken = {line.npc for line in self.conversation}
        unused = sorted(set(self.npcs) - spoken)
        if unused:
            raise ValueError(f"npcs: {', '.join(unused)} not spoken to in the conversation")
        return self

    def lines_of_player(self) -> list[Line]:
        """What each player says, in order: the first `turns_each` lines, cycling."""
        return [self.conversation[i % len(self.conversation)] for i in range(self.load.turns_each)]

    def forbidden(self, npc: str) -> tuple[str, ...]:
        own = self.npcs[npc].forbidden_phrases if npc in self.npcs else ()
        return (*self.persona.forbidden_phrases, *self.persona.extra_forbidden_phrases, *own)

    def budget(self, npc: str) -> Budget:
        override = self.npcs[npc].budget if npc in self.npcs else BudgetOverride()
        return self.persona.budget.model_copy(update=override.model_dump(exclude_none=True))

    def batches(self) -> list[list[int]]:
        """Player numbers (0-based), `load.batch_size` a batch: one item of the flow's map each."""
        size, players = self.load.batch_size, self.load.players
        return [list(range(start, min(start + size, players))) for start in range(0, players, size)]


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message lists each problem with its field path."""


def parse_scenario(data: Any, source: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(f"{source}: {describe(error)}") from None


def describe(error: ValidationError) -> str:
    """Each problem as `path.to.field: message` (never the input itself)."""
    problems = []
    for problem in error.errors(include_url=False, include_input=False)[:10]:
        path = ".".join(str(part) for part in problem["loc"]) or "(top)"
        problems.append(f"{path}: {problem['msg']}")
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """A phrase matched case-insensitively, as whole words, across any whitespace and apostrophe form."""
    words = [re.escape(word).replace("'", "['\\u2019]") for word in phrase.lower().split()]
    return re.compile(r"(?<![\w])" + r"\s+".join(words) + r"(?![\w])", re.IGNORECASE)
