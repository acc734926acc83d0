"""What this server supports (`GET /capabilities`): frame types, protocol versions, the client
policy's floor per platform, and the features of a world (its performance mode, turn budgets)."""

from __future__ import annotations

from pydantic import BaseModel

from aicore.frames import FRAME_ENCODINGS, KNOWN_ACTIONS, PROTOCOL_VERSIONS, SERVER_FRAME_TYPES
from aicore.performance import PerformanceMode
from aicore.platform.settings import SettingsCache, TurnLimits

# Features every world has on this deployment (a world's settings tune them, see `WorldFeatures`).
FEATURES: tuple[str, ...] = (
    "npc.streaming",
    "npc.memory",
    "sessions.forever",
    "world.pushes",
    "lore.search",
    "performance_modes",
    "turn_limits",
    "client_versions",
)


class PlatformFloor(BaseModel):
    minimum: str | None
    recommended: str | None


class WorldFeatures(BaseModel):
    world_id: str
    features: list[str]
    performance_mode: PerformanceMode
    performance_modes: list[PerformanceMode]
    limits: TurnLimits


class Capabilities(BaseModel):
    protocol_versions: list[str]
    encodings: list[str]
    client_frames: list[str]
    server_frames: list[str]
    clients: dict[str, PlatformFloor]  # the floor per platform (blocked versions are not listed)
    client_version_required: bool
    world: WorldFeatures | None = None


def capabilities(settings: SettingsCache, world_id: str | None) -> Capabilities:
    everywhere = settings.everywhere()
    world = None
    if world_id is not None:
        effective = settings.for_world(world_id)
        world = WorldFeatures(
            world_id=world_id,
            features=list(FEATURES),
            performance_mode=effective.performance_mode,
            performance_modes=list(PerformanceMode),
            limits=effective.limits,
        )
    return Capabilities(
        protocol_versions=list(PROTOCOL_VERSIONS),
        encodings=list(FRAME_ENCODINGS),
        client_frames=list(KNOWN_ACTIONS),
        server_frames=list(SERVER_FRAME_TYPES),
        clients={
            platform: PlatformFloor(minimum=rules.minimum, recommended=rules.recommended)
            for platform, rules in sorted(everywhere.clients.platforms.items())
        },
        client_version_required=everywhere.clients.require_version,
        world=world,
    )
