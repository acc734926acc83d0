"""A world's definition as pushed: what its clock, weather and regions are computed from.

Stored as one item per world at each push (`STATE#DEF`), so a state read needs no other content.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from aicore.world.content import ArcSpec, ClimateSpec, FactionSpec, RegionSpec, WorldContent, WorldManifest


class WorldDefinition(BaseModel):
    model_config = ConfigDict(frozen=True)

    world: WorldManifest
    regions: tuple[RegionSpec, ...]
    factions: tuple[FactionSpec, ...] = ()
    arcs: tuple[ArcSpec, ...] = ()  # the storyteller's arcs (aicore.world.story)
    content_version: int = 0

    @property
    def world_id(self) -> str:
        return self.world.world_id

    @classmethod
    def of(cls, content: WorldContent, content_version: int) -> WorldDefinition:
        return cls(
            world=content.world,
            regions=content.regions,
            factions=content.factions,
            arcs=content.arcs,
            content_version=content_version,
        )

    def region(self, region_id: str) -> RegionSpec | None:
        return next((r for r in self.regions if r.region_id == region_id), None)

    def climate(self, region: RegionSpec) -> ClimateSpec:
        return self.world.climates[region.climate]

    @property
    def region_ids(self) -> tuple[str, ...]:
        return tuple(r.region_id for r in self.regions)
