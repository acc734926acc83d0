"""A player's proficiency in a world's languages: it grows with exposure (phrases heard).

Proficiency (0-100) is `100 * heard / (heard + HALF_WAY)` for `heard` phrases of the language heard
so far: 4 after one phrase, 50 after 20, 80 after 80 (quick at first, then slower, never quite 100).
A phrase's translation is revealed once the proficiency reaches the phrase's difficulty.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

HALF_WAY = 20  # phrases heard for a proficiency of 50


def proficiency(heard: int) -> int:
    """A player's proficiency (0-100) in a language after hearing `heard` of its phrases."""
    return (100 * max(heard, 0)) // (max(heard, 0) + HALF_WAY)


class Proficiency(BaseModel):
    """What one player has heard of each language of a world (phrases, by language id)."""

    world_id: str
    player_id: str
    heard: dict[str, int] = Field(default_factory=dict)

    def of(self, language_id: str) -> int:
        return proficiency(self.heard.get(language_id, 0))
