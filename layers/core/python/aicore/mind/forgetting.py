"""Forgetting within bounds: when a partition holds more than its bound, its least valuable
memories go. Value = the retrieval's recency and importance (never relevance: no query here), so
old small talk goes first and what mattered, or was used lately, stays. Of the memories that go,
those of importance up to `forget_importance` are dropped; the others are folded into one
summary memory (which may itself be folded again later), so a partition holds at most its bound
after every compaction, however long the game runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from aicore.clock import stamp
from aicore.mind.models import Memory, MemoryKind, MemorySource, memory_id
from aicore.mind.policy import MindPolicy
from aicore.mind.retrieval import recency

Embed = Callable[[str], tuple[str, bytes]]  # text -> (embedder name, vector bytes)


@dataclass(frozen=True)
class Compaction:
    remove: tuple[str, ...]
    summary: Memory | None
    dropped: int
    folded: int


def value(memory: Memory, now: datetime, policy: MindPolicy) -> float:
    weights = policy.weights
    return weights.recency * recency(memory, now, weights.hourly_decay) + weights.importance * (
        memory.importance / 10
    )


def plan(
    memories: Sequence[Memory], bound: int, now: datetime, policy: MindPolicy, embed: Embed
) -> Compaction | None:
    """What to remove and the summary to add so that at most `bound` remain; None: within bound."""
    if len(memories) <= bound or not memories:
        return None
    count = min(len(memories), max(policy.compact_batch, len(memories) - bound + 1))
    leaving = sorted(memories, key=lambda m: (value(m, now, policy), m.created_at, m.memory_id))[:count]
    folded = [m for m in leaving if m.importance > policy.forget_importance]
    first = leaving[0]
    summary = _summary(first, folded, now, policy, embed) if folded else None
    return Compaction(
        remove=tuple(m.memory_id for m in leaving),
        summary=summary,
        dropped=len(leaving) - len(folded),
        folded=len(folded),
    )


def _summary(
    first: Memory, folded: Sequence[Memory], now: datetime, policy: MindPolicy, embed: Embed
) -> Memory:
    ordered = sorted(folded, key=lambda m: m.created_at)
    lines = [_line(m) for m in sorted(ordered, key=lambda m: -m.importance)]
    text = _fit(
        f"Earlier ({ordered[0].created_at[:10]} to {ordered[-1].created_at[:10]}): " + " ".join(lines), policy
    )
    embedder, vector = embed(text)
    at = stamp(now)
    return Memory(
        memory_id=memory_id("summary", *sorted(m.memory_id for m in folded)),
        world_id=first.world_id,
        npc_id=first.npc_id,
        about=first.about,
        text=text,
        kind=MemoryKind.SUMMARY,
        source=MemorySource.COMPACTION,
        importance=max(1, round(sum(m.importance for m in folded) / len(folded))),
        created_at=ordered[0].created_at,
        last_access=at,
        subjects=tuple(dict.fromkeys(s for m in folded for s in m.subjects)),
        embedder=embedder,
        vector=vector,
        cites=tuple(m.memory_id for m in ordered),
    )


def _line(memory: Memory) -> str:
    if memory.kind is MemoryKind.SUMMARY:
        return memory.text.split("): ", 1)[-1]
    who = {MemoryKind.PLAYER_SAID: "they said", MemoryKind.NPC_SAID: "I said"}.get(memory.kind, "")
    return f"{who}: {memory.text.rstrip('.')}." if who else f"{memory.text.rstrip('.')}."


def _fit(text: str, policy: MindPolicy) -> str:
    if len(text) <= policy.summary_chars:
        return text
    return text[: policy.summary_chars - 1].rsplit(" ", 1)[0] + "…"
