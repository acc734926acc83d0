"""A faction's constructed language: a lexicon that is a pure function of the language's seed.

From the seed come a sound inventory (some consonants, some vowels, some syllable shapes) and, for
each concept of a fixed list, a word of one to three syllables, all distinct. Phrases are fixed
sequences of concepts with an English translation and a difficulty (the proficiency a player needs
to understand them). Every draw is a SHA-256 of (seed, counter): no process state, no `random`,
so every Lambda, every Python version and every machine builds the same lexicon.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from aicore.world.content import FactionSpec, Language

CONSONANTS = (
    "p",
    "t",
    "k",
    "b",
    "d",
    "g",
    "m",
    "n",
    "s",
    "sh",
    "th",
    "v",
    "z",
    "r",
    "l",
    "h",
    "f",
    "kh",
    "y",
    "w",
)
VOWELS = ("a", "e", "i", "o", "u", "ae", "ei", "ou", "y")
SHAPES = ("CV", "CVC", "V", "VC", "CVV")
MIN_WORD_LETTERS = 2
MAX_WORD_ATTEMPTS = 64  # a collision draws again; 64 misses in a row never happen with 8+ sounds


class PhraseKind(StrEnum):
    GREETING = "greeting"  # the NPC's first line of a session
    FAREWELL = "farewell"  # when the player takes leave
    OATH = "oath"  # when the NPC's feelings run strong
    EVERYDAY = "everyday"  # otherwise: a word of the faction's own in passing


@dataclass(frozen=True)
class Concept:
    key: str
    english: str
    syllables: tuple[int, int]  # fewest, most: common words are short


# The words every language has. Order matters: it is part of the lexicon's definition (the draws
# are counted), so add new concepts at the end only.
CONCEPTS: tuple[Concept, ...] = (
    Concept("hello", "hello", (1, 2)),
    Concept("farewell", "go well", (1, 2)),
    Concept("thanks", "thank you", (1, 2)),
    Concept("friend", "friend", (1, 2)),
    Concept("stranger", "stranger", (2, 3)),
    Concept("yes", "yes", (1, 1)),
    Concept("no", "no", (1, 1)),
    Concept("fire", "fire", (1, 2)),
    Concept("water", "water", (1, 2)),
    Concept("road", "road", (1, 2)),
    Concept("stone", "stone", (1, 2)),
    Concept("night", "night", (1, 2)),
    Concept("day", "day", (1, 2)),
    Concept("home", "home", (1, 2)),
    Concept("blood", "blood", (1, 2)),
    Concept("truth", "truth", (2, 3)),
    Concept("swear", "I swear it", (2, 3)),
    Concept("ancestors", "ancestors", (2, 3)),
    Concept("luck", "luck", (1, 2)),
    Concept("silence", "silence", (2, 3)),
)


@dataclass(frozen=True)
class PhraseSpec:
    key: str
    kind: PhraseKind
    concepts: tuple[str, ...]
    translation: str
    difficulty: int  # the proficiency (0-100) at which a player understands it


PHRASES: tuple[PhraseSpec, ...] = (
    PhraseSpec("hello-friend", PhraseKind.GREETING, ("hello", "friend"), "Hello, friend", 4),
    PhraseSpec("hello-stranger", PhraseKind.GREETING, ("hello", "stranger"), "Hello, stranger", 10),
    PhraseSpec("farewell", PhraseKind.FAREWELL, ("farewell",), "Go well", 4),
    PhraseSpec("farewell-road", PhraseKind.FAREWELL, ("farewell", "road"), "Go well on the road", 15),
    PhraseSpec("thanks", PhraseKind.EVERYDAY, ("thanks",), "Thank you", 6),
    PhraseSpec("fire-home", PhraseKind.EVERYDAY, ("fire", "home"), "Fire and home", 20),
    PhraseSpec("day-night", PhraseKind.EVERYDAY, ("day", "night", "luck"), "Luck by day and night", 30),
    PhraseSpec("water-stone", PhraseKind.EVERYDAY, ("water", "stone"), "Water wears the stone", 40),
    PhraseSpec("oath-blood", PhraseKind.OATH, ("blood", "swear"), "By my blood, I swear it", 25),
    PhraseSpec(
        "oath-ancestors",
        PhraseKind.OATH,
        ("ancestors", "truth", "swear"),
        "By the ancestors' truth, I swear it",
        45,
    ),
    PhraseSpec("oath-silence", PhraseKind.OATH, ("silence", "stone"), "Silence, like stone", 35),
)


@dataclass(frozen=True)
class Phrase:
    key: str
    kind: PhraseKind
    language_id: str
    text: str  # in the language, as spoken: "Vesh tarn"
    translation: str
    difficulty: int


@dataclass(frozen=True)
class Lexicon:
    language_id: str
    name: str
    consonants: tuple[str, ...]
    vowels: tuple[str, ...]
    shapes: tuple[str, ...]
    words: dict[str, str]  # concept key -> word
    phrases: tuple[Phrase, ...]

    def of_kind(self, kind: PhraseKind) -> tuple[Phrase, ...]:
        return tuple(p for p in self.phrases if p.kind is kind)


def language_id(language: Language) -> str:
    """The language's id: its name in lower case, words joined by '-' ("Old Lacustrine":
    "old-lacustrine"). Proficiency is kept by it."""
    return re.sub(r"[^a-z0-9]+", "-", language.name.lower()).strip("-") or "language"


def lexicon_of(language: Language) -> Lexicon:
    return build_lexicon(language_id(language), language.name, language.seed or language_id(language))


@lru_cache(maxsize=64)
def build_lexicon(language: str, name: str, seed: str) -> Lexicon:
    """The lexicon of `seed` (cached per warm container: it is the same every time)."""
    draw = _Draws(seed)
    consonants = draw.subset(CONSONANTS, 8, 12)
    vowels = draw.subset(VOWELS, 3, 5)
    shapes = draw.subset(SHAPES, 2, 4)
    words: dict[str, str] = {}
    taken: set[str] = set()
    for concept in CONCEPTS:
        for _ in range(MAX_WORD_ATTEMPTS):
            word = draw.word(consonants, vowels, shapes, concept.syllables)
            if len(word) >= MIN_WORD_LETTERS and word not in taken:
                break
        else:  # pragma: no cover - the inventories make this impossible in practice
            raise ValueError(f"language '{language}' cannot make a distinct word for '{concept.key}'")
        words[concept.key] = word
        taken.add(word)
    phrases = tuple(
        Phrase(
            key=spec.key,
            kind=spec.kind,
            language_id=language,
            text=" ".join(words[c] for c in spec.concepts).capitalize(),
            translation=spec.translation,
            difficulty=spec.difficulty,
        )
        for spec in PHRASES
    )
    return Lexicon(language, name, consonants, vowels, shapes, words, phrases)


class _Draws:
    """Numbers drawn from SHA-256(seed, n) for n = 0, 1, 2, …: the same sequence everywhere."""

    def __init__(self, seed: str) -> None:
        self._seed = seed
        self._n = 0

    def below(self, bound: int) -> int:
        digest = hashlib.sha256(f"{self._seed}\x00{self._n}".encode()).digest()
        self._n += 1
        return int.from_bytes(digest[:8], "big") % bound

    def subset(self, pool: tuple[str, ...], fewest: int, most: int) -> tuple[str, ...]:
        """Between `fewest` and `most` distinct members of `pool`, in the pool's order."""
        remaining = list(pool)
        chosen: set[str] = set()
        for _ in range(fewest + self.below(most - fewest + 1)):
            chosen.add(remaining.pop(self.below(len(remaining))))
        return tuple(p for p in pool if p in chosen)

    def word(
        self,
        consonants: tuple[str, ...],
        vowels: tuple[str, ...],
        shapes: tuple[str, ...],
        syllables: tuple[int, int],
    ) -> str:
        """A word of so many syllables; a syllable after a vowel starts with a consonant (if the
        language has such a shape), so vowels never pile up ("neeeith")."""
        count = syllables[0] + self.below(syllables[1] - syllables[0] + 1)
        after_vowel = tuple(shape for shape in shapes if shape.startswith("C")) or shapes
        parts: list[str] = []
        for _ in range(count):
            choices = after_vowel if parts and parts[-1] in vowels else shapes
            shape = choices[self.below(len(choices))]
            for slot in shape:
                pool = consonants if slot == "C" else vowels
                parts.append(pool[self.below(len(pool))])
        return "".join(parts)


def faction_lexicon(factions: Sequence[FactionSpec], faction_id: str | None) -> Lexicon | None:
    """The lexicon of the language `faction_id` speaks (None: no such faction, or it has no language)."""
    faction = next((f for f in factions if f.faction_id == faction_id), None) if faction_id else None
    return lexicon_of(faction.language) if faction and faction.language else None
