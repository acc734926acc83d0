"""NPC minds over fakes, for unit tests: the real logic, the static embedder, in-memory stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aicore.clock import stamp
from aicore.llm.embedding import StaticEmbedder
from aicore.mind.emotions import Temperament
from aicore.mind.policy import MindPolicy
from aicore.mind.service import MindDeps, NpcDirectory, ObservedTurn
from aicore.world.models import Npc
from tests.fakes import FakeMind, FakePublisher, FakeWorld, ScriptedAppraiser

EMBEDDER = StaticEmbedder()  # weights load once per test session
START = datetime(2026, 11, 1, 18, 0, tzinfo=UTC)


def npc(npc_id: str, name: str, faction: str | None, region: str | None, **sheet: object) -> Npc:
    return Npc.model_validate(
        {
            "npc_id": npc_id,
            "world_id": "demo",
            "name": name,
            "greeting": "Well met.",
            "faction": faction,
            "region": region,
            "persona": f"{name} of the demo world.",
            "speech_style": "Plain.",
            **sheet,
        }
    )


MIRA = npc("mira", "Mira", "Emberfall townsfolk", "Emberfall", temperament=Temperament(joy=0.6, fear=0.05))
BORIN = npc("borin", "Borin Ironhand", "Emberfall townsfolk", "Emberfall")
SABLE = npc("sable", "Sable", None, "The roads around Emberfall")
GRETA = npc("greta", "Greta", "Miners' guild", "Emberfall")


def mind_deps(
    world: FakeWorld | None = None,
    store: FakeMind | None = None,
    policy: MindPolicy | None = None,
    npcs: tuple[Npc, ...] = (MIRA, BORIN, SABLE),
) -> MindDeps:
    world = world or FakeWorld()
    for each in npcs:
        world.put_npc(each)
    return MindDeps(
        store=store or FakeMind(),
        world=world,
        embedder=EMBEDDER,
        appraiser=ScriptedAppraiser(),
        events=FakePublisher(),
        npcs=NpcDirectory(world),
        policy=policy or MindPolicy(),
        clock=lambda: START,
    )


def turn(
    n: int,
    line: str,
    reply: str = "Aye.",
    *,
    npc_id: str = "mira",
    player_id: str = "p1",
    at: datetime | None = None,
    used: list[str] | None = None,
) -> ObservedTurn:
    return ObservedTurn(
        world_id="demo",
        npc_id=npc_id,
        player_id=player_id,
        player_line=line,
        reply=reply,
        turn_id=f"turn-{player_id}-{n}",
        occurred_at=stamp(at or START + timedelta(minutes=n)),
        memory_ids=used or [],
    )
