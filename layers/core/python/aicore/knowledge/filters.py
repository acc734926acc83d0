"""Knowledge filters: who may read which chunk.

A chunk without tags is common knowledge. A tagged chunk is known only to NPCs whose faction, region
or id it lists. Three audiences read the knowledge base: an NPC (its filters), the public (players:
common knowledge only) and the studio (everything, to check what was uploaded).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aicore.knowledge.models import KnowledgeTags, normalize_tag


class AudienceKind(StrEnum):
    STUDIO = "studio"
    PUBLIC = "public"
    NPC = "npc"


@dataclass(frozen=True)
class Audience:
    kind: AudienceKind
    npc_id: str | None = None
    faction: str | None = None  # normalized
    region: str | None = None  # normalized

    @classmethod
    def studio(cls) -> Audience:
        return cls(AudienceKind.STUDIO)

    @classmethod
    def public(cls) -> Audience:
        return cls(AudienceKind.PUBLIC)

    @classmethod
    def npc(cls, npc_id: str, faction: str | None = None, region: str | None = None) -> Audience:
        return cls(
            AudienceKind.NPC,
            npc_id=npc_id,
            faction=normalize_tag(faction) if faction else None,
            region=normalize_tag(region) if region else None,
        )

    def may_know(self, tags: KnowledgeTags) -> bool:
        if self.kind is AudienceKind.STUDIO or tags.untagged:
            return True
        if self.kind is AudienceKind.PUBLIC:
            return False
        return (
            (self.faction is not None and self.faction in tags.factions)
            or (self.region is not None and self.region in tags.regions)
            or (self.npc_id is not None and self.npc_id in tags.npcs)
        )
