"""Seeds the demo world: NPCs with distinct personas and a few lore facts."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from aicore.world.models import LoreFact, Npc
from aicore.world.store import WorldStore

DEMO_WORLD = Path(__file__).with_name("demo_world.json")


class WorldSeed(BaseModel):
    world_id: str
    npcs: list[dict[str, object]]
    lore: list[dict[str, object]]


def seed_world(store: WorldStore, path: Path = DEMO_WORLD) -> WorldSeed:
    seed = WorldSeed.model_validate(json.loads(path.read_text()))
    for npc in seed.npcs:
        store.put_npc(Npc.model_validate({**npc, "world_id": seed.world_id}))
    for fact in seed.lore:
        store.put_lore(LoreFact.model_validate({**fact, "world_id": seed.world_id}))
    return seed
