"""NPC minds over fakes, for unit tests: the real logic, the static embedder, in-memory stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aicore.clock import stamp
from aicore.llm.embedding import StaticEmbedder
from aicore.mind.emotions import Temperament
from aicore.mind.policy import MindPolicy
from aicore.mind.service import MindDeps, NpcDirectory, ObservedTurn, observe_turn
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


SMALL_TALK = (
    "Good evening, how is the stew tonight?",
    "Is the common room always this loud?",
    "I walked past the mill this morning, the wheel was turning slowly.",
    "Do you have a room with a window?",
    "The weather looks grim over the mountains.",
    "I saw a cat chasing mice in the stable.",
    "How much for a mug of cider?",
    "My boots are soaked from the rain.",
    "Who plays the fiddle here on market nights?",
    "I slept well, the bed was soft.",
    "The bread is fresh today, I can smell it.",
    "Is the blacksmith open at this hour?",
    "I might stay another night, not sure yet.",
    "Lovely fire you keep, warm as summer.",
    "The road from the south was dusty and long.",
    "I counted {n} crows on the roof this morning.",
    "Can I leave my cloak by the door?",
    "What day is the market held here?",
)
FACT = "My name is Aldric and my sister Elara was taken by the Red Hand bandits."
FACT_QUESTION = "Have you heard anything about my missing sister?"


def long_game(turns: int = 2000, fact_turn: int = 10, minutes_between: int = 15) -> dict[str, Any]:
    """One player and Mira for `turns` turns, each recalling before and remembering after, as the
    NPC turn and its consumer do; the important fact is told at `fact_turn`. Returns what a test
    or the bench reads: the largest memory count seen, and where the fact ranks at the end."""
    from aicore.mind.turn import recall

    deps = mind_deps()
    store = deps.store
    assert isinstance(store, FakeMind)
    most = 0
    for n in range(1, turns):
        at = START + timedelta(minutes=minutes_between * n)
        line = FACT if n == fact_turn else SMALL_TALK[n % len(SMALL_TALK)].format(n=n)
        used = recall(store.turn_memories("demo", "mira", "p1"), line, deps.embedder, at, deps.policy)
        observe_turn(deps, turn(n, line, "Aye, love.", at=at, used=[s.memory.memory_id for s in used]))
        most = max(most, store.count("demo", "mira", "p1"))
    at = START + timedelta(minutes=minutes_between * turns)
    final = recall(store.turn_memories("demo", "mira", "p1"), FACT_QUESTION, deps.embedder, at, deps.policy)
    texts = [s.memory.text for s in final]
    fact_rank = next((i + 1 for i, text in enumerate(texts) if "Elara" in text), None)
    return {
        "turns": turns,
        "bound": deps.policy.max_pair_memories,
        "most_memories": most,
        "memories_at_end": store.count("demo", "mira", "p1"),
        "fact_rank": fact_rank,
        "recalled": len(final),
        "game_hours": round(minutes_between * turns / 60, 1),
    }
