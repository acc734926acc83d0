"""Reflection: an NPC draws a few higher-level insights from what a player told it, each citing the
memories it came from (Generative Agents). The flow (`state_machines/mind-reflection.asl.json`):

    gather -> (due?) -> reflect (silver tier) -> record
                          \\-- on any failure --> reflect_scripted -/

Every step tolerates redelivery: `gather` and both `reflect`s only read; `record` writes the
insights under ids derived from the reflection's number, and moves the pair's reflection count on
once, conditionally, in the same transaction.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter

from aicore.clock import Clock, now, stamp
from aicore.errors import ModelUnavailable
from aicore.flows import FlowStarted, FlowStarter
from aicore.inputs import Identifier
from aicore.llm.embedding import Embedder
from aicore.llm.endpoint import ChatCall, ModelEndpoint, TierTarget
from aicore.llm.wire import ChatMessage
from aicore.mind.events import ReflectionDue
from aicore.mind.models import Memory, MemoryKind, MemorySource, memory_id
from aicore.mind.policy import MindPolicy
from aicore.mind.store import MindStore
from aicore.mind.text import keywords
from aicore.mind.vectors import to_bytes
from aicore.topology import MIND_REFLECTION_FLOW

REFLECTION_MAX_TOKENS = 160
INSIGHT_CHARS = 240
REFLECTION_INSTRUCTIONS = (
    "You are an NPC in a game, thinking over what a traveller told you. From the numbered memories, "
    "write at most {n} short insights about the traveller, one per line, each ending with the numbers "
    "of the memories it comes from, exactly like this:\n"
    "They are searching for their lost sister. (because of 1, 4)\n"
    "Write nothing else."
)
_INSIGHT = re.compile(r"^\s*(?:[-*]|\d+[.)])?\s*(.{8,240}?)\s*\(because of ([0-9,\s]+)\)\s*$")


class _Step(BaseModel):
    world_id: Identifier
    npc_id: Identifier
    player_id: Identifier
    reflection: int = Field(ge=0)


class Cited(BaseModel):
    memory_id: str
    text: str
    importance: int


class Insight(BaseModel):
    text: str = Field(min_length=1, max_length=INSIGHT_CHARS)
    cites: list[str] = Field(min_length=1)


class Gather(_Step):
    step: Literal["gather"]


class Reflect(_Step):
    step: Literal["reflect"]
    memories: list[Cited] = Field(max_length=50)


class ReflectScripted(_Step):
    step: Literal["reflect_scripted"]
    memories: list[Cited] = Field(max_length=50)


class Record(_Step):
    step: Literal["record"]
    insights: list[Insight] = Field(max_length=5)
    by: Literal["model", "scripted"]


ReflectionStep = Annotated[Gather | Reflect | ReflectScripted | Record, Field(discriminator="step")]
reflection_step: TypeAdapter[ReflectionStep] = TypeAdapter(ReflectionStep)


class Gathered(BaseModel):
    due: bool  # False: this reflection was already recorded, or too little to think over
    memories: list[Cited]


class Insights(BaseModel):
    insights: list[Insight]
    by: Literal["model", "scripted"]


class Recorded(BaseModel):
    recorded: bool  # False: already recorded (a redelivery)
    insights: int
    by: str


class InsightsUnusable(ModelUnavailable):
    """The model answered, but with no insight in the required form: the scripted step takes over."""


@dataclass
class ReflectionDeps:
    store: MindStore
    embedder: Embedder
    endpoint: ModelEndpoint
    target: TierTarget
    policy: MindPolicy
    clock: Clock = now


def gather(deps: ReflectionDeps, step: Gather) -> Gathered:
    """The most important memories told since the last reflection (insights excluded)."""
    pair = deps.store.read_pair(step.world_id, step.npc_id, step.player_id)
    candidates = [m for m in pair.memories if m.kind is not MemoryKind.INSIGHT]
    chosen = sorted(candidates, key=lambda m: (-m.importance, m.created_at))[: deps.policy.reflection_inputs]
    chosen.sort(key=lambda m: m.created_at)
    due = pair.state.reflections == step.reflection and len(chosen) >= 2
    return Gathered(
        due=due, memories=[Cited(memory_id=m.memory_id, text=m.text, importance=m.importance) for m in chosen]
    )


def reflect(deps: ReflectionDeps, step: Reflect) -> Insights:
    """Insights by the silver tier; `InsightsUnusable` (or the tier's failure) hands over to the script."""
    numbered = "\n".join(f"{i}. {m.text}" for i, m in enumerate(step.memories, start=1))
    answer = deps.endpoint.chat(
        ChatCall(
            deps.target,
            [
                ChatMessage(
                    role="system", content=REFLECTION_INSTRUCTIONS.format(n=deps.policy.max_insights)
                ),
                ChatMessage(role="user", content=numbered),
            ],
            max_tokens=REFLECTION_MAX_TOKENS,
            temperature=0.3,
            timeout_s=deps.policy.reflection_timeout_s,
        )
    ).text
    insights = parse_insights(answer, step.memories, deps.policy.max_insights)
    if not insights:
        raise InsightsUnusable("The model's reflection had no insight in the required form.")
    return Insights(insights=insights, by="model")


def parse_insights(answer: str, memories: Sequence[Cited], limit: int) -> list[Insight]:
    """Lines `<insight> (because of 1, 3)` whose numbers name given memories; others are ignored."""
    insights = []
    for line in answer.splitlines():
        found = _INSIGHT.match(line)
        if found is None:
            continue
        numbers = [int(n) for n in re.findall(r"\d+", found.group(2))]
        cites = list(dict.fromkeys(memories[n - 1].memory_id for n in numbers if 1 <= n <= len(memories)))
        if cites:
            insights.append(Insight(text=found.group(1).strip(), cites=cites))
    return insights[:limit]


def reflect_scripted(step: ReflectScripted, policy: MindPolicy) -> Insights:
    """Insights that need no model: what mattered most, and what keeps coming back."""
    if not step.memories:
        return Insights(insights=[], by="scripted")
    top = max(step.memories, key=lambda m: (m.importance, m.memory_id))
    insights = [
        Insight(text=_clip(f"What matters most to {step.player_id}: {top.text}"), cites=[top.memory_id])
    ]
    counts = Counter(w for m in step.memories for w in set(keywords(m.text)) if len(w) > 3)
    recurring = [w for w, n in counts.most_common(3) if n >= 2]
    if recurring:
        word = recurring[0]
        cites = [m.memory_id for m in step.memories if word in keywords(m.text)]
        insights.append(Insight(text=_clip(f"{step.player_id} keeps coming back to {word}."), cites=cites))
    return Insights(insights=insights[: policy.max_insights], by="scripted")


def record(deps: ReflectionDeps, step: Record) -> Recorded:
    """The insights as memories of the pair (source reflection), and the next reflection's count."""
    at = stamp(deps.clock())
    pair = deps.store.read_pair(step.world_id, step.npc_id, step.player_id)
    known = {m.memory_id: m.importance for m in pair.memories}
    vectors = deps.embedder.embed([i.text for i in step.insights])
    memories = [
        Memory(
            memory_id=memory_id(
                step.world_id, step.npc_id, step.player_id, "reflection", str(step.reflection), str(n)
            ),
            world_id=step.world_id,
            npc_id=step.npc_id,
            about=step.player_id,
            text=insight.text,
            kind=MemoryKind.INSIGHT,
            source=MemorySource.REFLECTION,
            importance=min(10, 1 + max((known.get(c, 5) for c in insight.cites), default=5)),
            created_at=at,
            last_access=at,
            subjects=(step.player_id,),
            embedder=deps.embedder.name,
            vector=to_bytes(vectors[n]),
            cites=tuple(insight.cites),
        )
        for n, insight in enumerate(step.insights)
    ]
    recorded = deps.store.reflected(step.world_id, step.npc_id, step.player_id, memories, step.reflection)
    return Recorded(recorded=recorded, insights=len(memories) if recorded else 0, by=step.by)


def run_step(deps: ReflectionDeps, step: ReflectionStep) -> BaseModel:
    match step:
        case Gather():
            return gather(deps, step)
        case Reflect():
            return reflect(deps, step)
        case ReflectScripted():
            return reflect_scripted(step, deps.policy)
        case Record():
            return record(deps, step)


def execution_name(world_id: str, npc_id: str, player_id: str, reflection: int) -> str:
    """One flow per reflection number of a pair (Step Functions refuses a second start of a name)."""
    return memory_id(world_id, npc_id, player_id, "reflection", str(reflection)).replace("mem_", "reflect-")


def _clip(text: str) -> str:
    return text if len(text) <= INSIGHT_CHARS else text[: INSIGHT_CHARS - 1] + "…"


def start_reflection(flows: FlowStarter, due: ReflectionDue) -> FlowStarted:
    """The reflection flow for `due`, started once however often the event comes."""
    name = execution_name(due.world_id, due.npc_id, due.player_id, due.reflection)
    payload = {
        "world_id": due.world_id,
        "npc_id": due.npc_id,
        "player_id": due.player_id,
        "reflection": due.reflection,
    }
    return flows.start(MIND_REFLECTION_FLOW, name, payload)
