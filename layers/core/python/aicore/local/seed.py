"""Seeds the demo world: NPCs with distinct personas, a few lore facts, and lore documents (ingested
through the real knowledge flow)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from aicore.auth import Caller, Role
from aicore.knowledge.models import NewDocument
from aicore.knowledge.service import LoreService, Submitted
from aicore.world.models import LoreFact, Npc
from aicore.world.store import WorldStore

DEMO_WORLD = Path(__file__).with_name("demo_world.json")


class SeedDocument(NewDocument):
    key: str  # its Idempotency-Key: seeding again (a kept --data-dir) adds nothing twice


class WorldSeed(BaseModel):
    world_id: str
    npcs: list[dict[str, object]]
    lore: list[dict[str, object]]
    documents: list[SeedDocument] = []


def seed_world(store: WorldStore, path: Path = DEMO_WORLD) -> WorldSeed:
    seed = WorldSeed.model_validate(json.loads(path.read_text()))
    for npc in seed.npcs:
        store.put_npc(Npc.model_validate({**npc, "world_id": seed.world_id}))
    for fact in seed.lore:
        store.put_lore(LoreFact.model_validate({**fact, "world_id": seed.world_id}))
    return seed


def seed_lore(service: LoreService, path: Path = DEMO_WORLD) -> list[Submitted]:
    """Uploads the demo world's lore documents as the studio would; the ingestion flow indexes them."""
    seed = WorldSeed.model_validate(json.loads(path.read_text()))
    studio = Caller(subject="aicore-local-seed", world_id=seed.world_id, roles=(Role.STUDIO,))
    return [
        service.submit(studio, seed.world_id, NewDocument(title=d.title, text=d.text, tags=d.tags), d.key)
        for d in seed.documents
    ]
