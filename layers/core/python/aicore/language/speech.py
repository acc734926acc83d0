"""An NPC of a faction with a language sprinkles it into its reply, and a player learns it by hearing.

What the NPC says in its language is decided here, never by the model (a small model cannot be
trusted to): at most two phrases per reply, chosen by the moment of the conversation
- opening: a greeting, on the NPC's first line of a session;
- closing: a farewell when the player takes leave; else an oath when the NPC's feelings run strong;
  else, when nothing opened the reply, a phrase of everyday speech;
and among phrases of a kind by a hash of the turn id, so a redelivered or replayed turn says the same.

The phrases are part of the reply's text: streamed as tokens (the opening before the model's first
token, the closing after its last), stored in the session, and listed in `data.phrases` with their
translation where the player's proficiency reaches the phrase's difficulty.

How proficiency grows: `aicore.language.proficiency`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from pydantic import BaseModel

from aicore.language.lexicon import Lexicon, Phrase, PhraseKind
from aicore.language.proficiency import Proficiency

STRONG_FEELING = 0.6  # the NPC's dominant emotion at least this intense: an oath
FAREWELL_WORDS = re.compile(
    r"\b(bye|goodbye|farewell|see you|good night|take care|so long|i must go|i'll be off)\b", re.IGNORECASE
)


class PhraseView(BaseModel):
    """`npc.reply`'s `data.phrases[]`: a phrase as spoken, its translation if the player knows enough."""

    text: str
    language: str  # the language's id
    translation: str | None  # None: the player's proficiency is below the phrase's difficulty
    proficiency: int  # the player's proficiency in the language as the turn began (0-100)


@dataclass(frozen=True)
class Moment:
    """What the phrases depend on."""

    turn_id: str
    first_line: bool  # the NPC has not spoken yet in this session
    player_line: str
    feeling: float  # the NPC's dominant emotion's intensity (0-1)


@dataclass(frozen=True)
class Sprinkle:
    """The phrases of one reply: `opening` before the model's words, `closing` after them."""

    opening: Phrase | None = None
    closing: Phrase | None = None

    @property
    def phrases(self) -> list[Phrase]:
        return [p for p in (self.opening, self.closing) if p is not None]

    @property
    def prefix(self) -> str:
        return f"{self.opening.text}! " if self.opening else ""

    @property
    def suffix(self) -> str:
        return f" {self.closing.text}." if self.closing else ""

    def spoken(self, reply: str) -> str:
        """The whole reply: what was streamed, and what is stored."""
        return f"{self.prefix}{reply}{self.suffix}"

    def heard(self) -> dict[str, int]:
        """Phrases heard by language: what the player's proficiency grows by."""
        counts: dict[str, int] = {}
        for phrase in self.phrases:
            counts[phrase.language_id] = counts.get(phrase.language_id, 0) + 1
        return counts

    def views(self, player: Proficiency | None) -> list[PhraseView]:
        views = []
        for phrase in self.phrases:
            level = player.of(phrase.language_id) if player else 0
            known = level >= phrase.difficulty
            views.append(
                PhraseView(
                    text=phrase.text,
                    language=phrase.language_id,
                    translation=phrase.translation if known else None,
                    proficiency=level,
                )
            )
        return views


NOTHING = Sprinkle()


def sprinkle(lexicon: Lexicon | None, moment: Moment) -> Sprinkle:
    """The phrases an NPC speaking `lexicon` adds to this reply (none without a language)."""
    if lexicon is None:
        return NOTHING
    opening = _pick(lexicon, PhraseKind.GREETING, moment.turn_id) if moment.first_line else None
    if FAREWELL_WORDS.search(moment.player_line):
        closing = _pick(lexicon, PhraseKind.FAREWELL, moment.turn_id)
    elif moment.feeling >= STRONG_FEELING:
        closing = _pick(lexicon, PhraseKind.OATH, moment.turn_id)
    elif opening is None:
        closing = _pick(lexicon, PhraseKind.EVERYDAY, moment.turn_id)
    else:
        closing = None
    return Sprinkle(opening, closing)


def _pick(lexicon: Lexicon, kind: PhraseKind, turn_id: str) -> Phrase | None:
    choices = lexicon.of_kind(kind)
    if not choices:
        return None
    digest = hashlib.sha256(f"{lexicon.language_id}\x00{kind.value}\x00{turn_id}".encode()).digest()
    return choices[int.from_bytes(digest[:8], "big") % len(choices)]
