"""What the NPC turn takes from the mind, with no AWS call and no model call of its own:

- `recall`: the memories for the prompt, ranked and cut to the token budget (the memories come
  from `MindStore.turn_memories`, one Query that can run beside the turn's other reads; the
  query vector is made in process by the static embedder);
- `prompt_section`: those memories, the relationship and the mood, as lines of the system prompt;
- `relationship_view`, `emotion_view`: `npc.reply`'s `data.relationship` and `data.emotion`;
- `debug_context`: `data.context` of a studio's `npc.say` with `"debug": true` (with the lore
  chunks the turn's knowledge search gave it).

After the turn, the ids of the memories used go back in NPC Turn Completed (`memory_ids`): the
consumer marks them accessed, off the player's path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from aicore.knowledge.models import ChunkHit
from aicore.llm.embedding import Embedder
from aicore.mind.emotions import NEUTRAL, Emotion, EmotionState, Temperament, dominant
from aicore.mind.models import MemoryKind, MemorySet, MemorySource, ScoredMemory, Scores
from aicore.mind.policy import MindPolicy
from aicore.mind.relationship import Relationship, label
from aicore.mind.retrieval import Budget, Query, rank
from aicore.world.now import WorldContext

STRONG, NOTABLE = 0.7, 0.3


def recall(
    memories: MemorySet,
    player_line: str,
    embedder: Embedder,
    now: datetime,
    policy: MindPolicy,
    vector: Any = None,
) -> list[ScoredMemory]:
    """The best memories about the player and general ones for this line, within the budget.
    `vector`: the line's vector by `embedder`, if the caller made it already (else made here)."""
    if not memories.all:
        return []
    if vector is None:
        vector = embedder.embed([player_line])[0]
    return rank(
        memories.all,
        Query(player_line, vector, embedder.name),
        now,
        policy.weights,
        Budget(policy.prompt_token_budget, policy.general_share),
    )


class RelationshipView(BaseModel):
    trust: int
    affinity: int
    label: str  # "neutral", "friendly", "wary", ...


class EmotionView(BaseModel):
    dominant: Emotion
    intensities: dict[Emotion, float]


def relationship_view(relationship: Relationship | None) -> RelationshipView:
    trust, affinity = (relationship.trust, relationship.affinity) if relationship else (0, 0)
    return RelationshipView(trust=trust, affinity=affinity, label=label(trust, affinity))


def emotion_view(
    state: EmotionState | None, temperament: Temperament | None, now: datetime, policy: MindPolicy
) -> EmotionView:
    """The NPC's emotions now: the stored state decayed toward the temperament (at rest if none)."""
    base = temperament or NEUTRAL
    intensities = state.at(now, base, policy.emotion_half_life_h) if state else base.baseline()
    return EmotionView(dominant=dominant(intensities), intensities=intensities)


_SAID = {
    MemoryKind.PLAYER_SAID: "They told you: ",
    MemoryKind.NPC_SAID: "You told them: ",
    MemoryKind.INSIGHT: "You concluded: ",
    MemoryKind.SUMMARY: "",
    MemoryKind.HEARSAY: "",
    MemoryKind.WITNESSED: "You saw: ",
}


def prompt_section(recalled: list[ScoredMemory], relationship: RelationshipView, emotion: EmotionView) -> str:
    """Lines for the system prompt: memories of the player, other memories, the relationship, the mood."""
    about = [s for s in recalled if not s.memory.general]
    general = [s for s in recalled if s.memory.general]
    lines: list[str] = []
    if about:
        lines.append("What you remember of this traveller (most relevant first):")
        lines += [f"- {_SAID[s.memory.kind]}{s.memory.text}" for s in about]
    if general:
        lines.append("Other things you remember:")
        lines += [f"- {_SAID[s.memory.kind]}{s.memory.text}" for s in general]
    lines.append(
        f"How you feel about them: {relationship.label} (trust {relationship.trust}, "
        f"affinity {relationship.affinity}, from -100 to 100)."
    )
    lines.append(f"Your mood: {mood(emotion)}.")
    return "\n".join(lines)


def mood(emotion: EmotionView) -> str:
    felt = sorted(((e, v) for e, v in emotion.intensities.items() if v >= NOTABLE), key=lambda item: -item[1])
    if not felt:
        return "calm"
    return ", ".join(f"{'strong' if v >= STRONG else 'some'} {e.value}" for e, v in felt)


class ContextMemory(BaseModel):
    memory_id: str
    text: str
    kind: MemoryKind
    source: MemorySource
    about: str | None
    importance: int
    created_at: str
    scores: Scores
    keyword: float  # the relevance's parts, 0..1 over the memories ranked
    vector: float


class DebugContext(BaseModel):
    """Why the NPC said what it said: what of its mind and of the lore went into the prompt, with
    the scores."""

    memories: list[ContextMemory]
    lore: list[ChunkHit] = Field(default_factory=list)  # with scores {keyword, vector, total}
    relationship: RelationshipView
    emotion: EmotionView
    world: WorldContext | None = None  # None: the world has no definition (never pushed)


def context_memory(scored: ScoredMemory) -> ContextMemory:
    m = scored.memory
    return ContextMemory(
        memory_id=m.memory_id,
        text=m.text,
        kind=m.kind,
        source=m.source,
        about=m.about,
        importance=m.importance,
        created_at=m.created_at,
        scores=scored.scores,
        keyword=scored.keyword,
        vector=scored.vector,
    )


def debug_context(
    recalled: list[ScoredMemory],
    relationship: RelationshipView,
    emotion: EmotionView,
    lore: list[ChunkHit] | None = None,
    world: WorldContext | None = None,
) -> DebugContext:
    return DebugContext(
        memories=[context_memory(s) for s in recalled],
        lore=list(lore or []),
        relationship=relationship,
        emotion=emotion,
        world=world,
    )
