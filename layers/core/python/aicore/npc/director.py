"""A group session's director: which of its NPCs answers a line that names none (`npc.say` without
`npc_id`). A rule a designer can predict, no model call:

1. **named**: an NPC whose name (or first name, or id) the line says; the first one said wins;
2. **last_addressed**: else the NPC who answered last in the session's recent lines;
3. **relevance**: else the NPC whose character (persona, speech, goals) shares most words with the
   line (words compared by their first five letters, so "swords" meets "sword" and "forged" "forges");
4. **first**: else the first NPC of the session.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aicore.errors import InvalidRequest
from aicore.sessions.models import Message, ParticipantKind
from aicore.world.models import Npc

STEM = 5  # letters of a word that relevance compares
ADDRESSED = "addressed"  # the frame named the NPC: no director
_WORD = re.compile(r"[a-z0-9]+(?:['_-][a-z0-9]+)*")
_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "do",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


@dataclass(frozen=True)
class Choice:
    npc_id: str
    reason: str  # "named" | "last_addressed" | "relevance" | "first" (ADDRESSED: not the director's)


def choose_responder(line: str, npcs: Sequence[Npc], history: Sequence[Message]) -> Choice:
    """`npcs`: the session's NPCs, in the session's order; `history`: its recent lines, oldest first."""
    if not npcs:
        raise InvalidRequest("This session has no NPC to answer: add one (session.join, kind npc).")
    return _named(line, npcs) or _last_addressed(npcs, history) or _most_relevant(line, npcs)


def _named(line: str, npcs: Sequence[Npc]) -> Choice | None:
    lowered = line.lower()
    said: list[tuple[int, int, str]] = []
    for order, npc in enumerate(npcs):
        names = {npc.name.lower(), npc.name.split()[0].lower(), npc.npc_id.lower()}
        found = [m.start() for name in names if (m := re.search(rf"\b{re.escape(name)}\b", lowered))]
        if found:
            said.append((min(found), order, npc.npc_id))
    return Choice(min(said)[2], "named") if said else None


def _last_addressed(npcs: Sequence[Npc], history: Sequence[Message]) -> Choice | None:
    ids = {npc.npc_id for npc in npcs}
    for message in reversed(history):
        if message.speaker.kind is ParticipantKind.NPC and message.speaker.id in ids:
            return Choice(message.speaker.id, "last_addressed")
    return None


def _most_relevant(line: str, npcs: Sequence[Npc]) -> Choice:
    words = _words(line)
    scores = [
        (len(words & _words(" ".join([npc.name, npc.persona, npc.speech_style, *npc.goals]))), -order)
        for order, npc in enumerate(npcs)
    ]
    best, negative_order = max(scores)
    return Choice(npcs[-negative_order].npc_id, "relevance" if best else "first")


def _words(text: str) -> set[str]:
    return {w[:STEM] for w in _WORD.findall(text.lower()) if w not in _STOP_WORDS and len(w) > 2}
