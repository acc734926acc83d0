"""An NPC's emotional state: a few named emotions whose intensities (0..1) drift back to the NPC's
temperament over time and jump with what happens in a turn.

This module imports nothing of aicore: the character sheet (`aicore.world.models.Npc`) holds a
`Temperament`, and the mind reads the sheet.
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Emotion(StrEnum):
    JOY = "joy"
    ANGER = "anger"
    FEAR = "fear"
    SADNESS = "sadness"
    SURPRISE = "surprise"


Intensity = float  # 0..1


def _bounded(values: dict[Emotion, float]) -> dict[Emotion, float]:
    return {e: round(min(1.0, max(0.0, values.get(e, 0.0))), 4) for e in Emotion}


class Temperament(BaseModel):
    """The baseline an NPC's emotions return to (private: part of the character sheet)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    joy: float = Field(0.4, ge=0, le=1)
    anger: float = Field(0.1, ge=0, le=1)
    fear: float = Field(0.1, ge=0, le=1)
    sadness: float = Field(0.1, ge=0, le=1)
    surprise: float = Field(0.1, ge=0, le=1)

    def baseline(self) -> dict[Emotion, float]:
        return {e: float(getattr(self, e.value)) for e in Emotion}


NEUTRAL = Temperament()


class EmotionState(BaseModel):
    """Intensities at `updated_at`; read them at another time with `at`."""

    world_id: str
    npc_id: str
    intensities: dict[Emotion, float]
    updated_at: str
    version: int = 0

    @classmethod
    def resting(cls, world_id: str, npc_id: str, temperament: Temperament, at: str) -> EmotionState:
        return cls(world_id=world_id, npc_id=npc_id, intensities=temperament.baseline(), updated_at=at)

    def at(self, moment: datetime, temperament: Temperament, half_life_h: float) -> dict[Emotion, float]:
        """Each intensity moved toward the baseline: half-way every `half_life_h` hours."""
        hours = max(0.0, (moment - datetime.fromisoformat(self.updated_at)).total_seconds() / 3600)
        keep = math.pow(0.5, hours / half_life_h)
        base = temperament.baseline()
        return _bounded({e: base[e] + (self.intensities.get(e, base[e]) - base[e]) * keep for e in Emotion})

    def felt(
        self,
        moment: datetime,
        stamp: str,
        temperament: Temperament,
        half_life_h: float,
        stimulus: dict[Emotion, float],
    ) -> EmotionState:
        """The state after decaying to `moment` and feeling `stimulus` (added, then bounded)."""
        now = self.at(moment, temperament, half_life_h)
        moved = _bounded({e: now[e] + stimulus.get(e, 0.0) for e in Emotion})
        return self.model_copy(
            update={"intensities": moved, "updated_at": stamp, "version": self.version + 1}
        )


def dominant(intensities: dict[Emotion, float]) -> Emotion:
    return max(Emotion, key=lambda e: (intensities.get(e, 0.0), -list(Emotion).index(e)))
