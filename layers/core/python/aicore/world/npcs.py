"""Reading a world's NPCs: players see public profiles; the studio and admins see character sheets."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from aicore.auth import Caller, Role
from aicore.world.models import Npc, NpcProfile
from aicore.world.store import WorldStore

SHEET_ROLES = (Role.STUDIO, Role.ADMIN)


class NpcProfiles(BaseModel):
    world_id: str
    view: Literal["profile"] = "profile"
    npcs: list[NpcProfile]


class NpcSheets(BaseModel):
    world_id: str
    view: Literal["sheet"] = "sheet"
    npcs: list[Npc]


def may_read_sheets(caller: Caller) -> bool:
    return any(caller.has(role) for role in SHEET_ROLES)


def list_npcs(world: WorldStore, caller: Caller, world_id: str) -> NpcProfiles | NpcSheets:
    caller.require_world(world_id)
    npcs = sorted(world.list_npcs(world_id), key=lambda npc: npc.npc_id)
    if may_read_sheets(caller):
        return NpcSheets(world_id=world_id, npcs=npcs)
    return NpcProfiles(world_id=world_id, npcs=[npc.profile() for npc in npcs])
