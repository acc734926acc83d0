"""Gossip: what a player tells one NPC travels to NPCs of its region or faction as hearsay, weighted
by trust in the teller, within per-day bounds, once, never a secret, and forgotten with its source."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aicore.mind import api
from aicore.mind.models import MemoryKind, MemorySource
from aicore.mind.policy import MindPolicy
from aicore.mind.service import observe_turn
from tests.edge_calls import PLAYER, STUDIO
from tests.fakes import FakeMind
from tests.minds import BORIN, GRETA, MIRA, SABLE, START, mind_deps, npc, turn

NEWS = "My name is Aldric and my sister Elara was taken by the Red Hand bandits."


def _heard(store: FakeMind, listener: str, player: str = "p1") -> list[str]:
    return [
        m.text for m in store.read_pair("demo", listener, player).memories if m.kind is MemoryKind.HEARSAY
    ]


def test_news_travels_to_the_same_region_or_faction_with_its_source_kept() -> None:
    # Given Mira, Borin (her faction and town), Greta (her town, another faction) and Sable (elsewhere)
    deps = mind_deps(npcs=(MIRA, BORIN, SABLE, GRETA))
    store = deps.store
    assert isinstance(store, FakeMind)
    done = observe_turn(deps, turn(1, NEWS))
    assert done is not None
    assert done.gossip == 2
    (borin,) = store.read_pair("demo", "borin", "p1").memories
    (greta,) = store.read_pair("demo", "greta", "p1").memories
    assert borin.text == f"Heard from Mira that p1 said: {NEWS}"
    assert (borin.source, borin.heard_from, borin.about) == (MemorySource.GOSSIP, "mira", "p1")
    assert borin.origin is not None
    assert set(borin.subjects) == {"p1", "mira"}
    # Trust weighs what is heard: the same faction (40) over the same town only (10)
    assert borin.importance > greta.importance
    assert store.read_pair("demo", "sable", "p1").memories == []
    told = next(m for m in store.read_pair("demo", "mira", "p1").memories if m.kind is MemoryKind.PLAYER_SAID)
    assert set(told.shared_with) == {"borin", "greta"}


def test_distrusted_tellers_small_talk_and_secrets_do_not_travel() -> None:
    wary_borin = BORIN.model_copy(update={"trusts": {"mira": -80}})
    deps = mind_deps(npcs=(MIRA, wary_borin))
    store = deps.store
    assert isinstance(store, FakeMind)
    observe_turn(deps, turn(1, NEWS))
    observe_turn(deps, turn(2, "Lovely fire you keep."))
    assert _heard(store, "borin") == []
    trusting = mind_deps(npcs=(MIRA, BORIN))
    observe_turn(trusting, turn(3, "This is a secret, don't tell anyone: I killed the king's guard."))
    assert _heard(trusting.store, "borin") == []  # type: ignore[arg-type]


def test_gossip_is_bounded_per_day_per_pair_and_per_listener() -> None:
    # Given a limit of 2 a day from one NPC to another, and 3 a day to one listener in all
    policy = MindPolicy(gossip_per_pair_per_day=2, gossip_per_listener_per_day=3)
    tellers = [npc(f"t{i}", f"Teller {i}", "Emberfall townsfolk", "Emberfall") for i in range(3)]
    deps = mind_deps(npcs=(BORIN, *tellers), policy=policy)
    store = deps.store
    assert isinstance(store, FakeMind)
    # When each teller hears five vital things on one day
    for t in tellers:
        for n in range(5):
            observe_turn(
                deps, turn(n, f"My brother Tomas number {n} was murdered by bandits!", npc_id=t.npc_id)
            )
    heard_by_borin = _heard(store, "borin")
    # Then Borin heard 3 in all that day, at most 2 from any teller
    assert len(heard_by_borin) == 3
    assert max(sum(f"Teller {i}" in text for text in heard_by_borin) for i in range(3)) <= 2
    # And the next day the counts start afresh
    next_day = START + timedelta(days=1)
    observe_turn(
        deps, turn(9, "My sister Ilsa was kidnapped by the Red Hand bandits!", npc_id="t0", at=next_day)
    )
    assert len(_heard(store, "borin")) == 4


def test_a_redelivered_turn_tells_nobody_twice() -> None:
    deps = mind_deps(npcs=(MIRA, BORIN))
    store = deps.store
    assert isinstance(store, FakeMind)
    first, second = observe_turn(deps, turn(1, NEWS)), observe_turn(deps, turn(1, NEWS))
    assert (first and first.gossip, second and second.gossip) == (1, 0)
    assert len(_heard(store, "borin")) == 1
    assert sum(store.counters.values()) == 2  # one per-pair count, one per-listener count


@pytest.mark.parametrize("who", ["player", "studio"])
def test_forgetting_a_memory_forgets_the_gossip_it_became(who: str) -> None:
    deps = mind_deps(npcs=(MIRA, BORIN))
    store = deps.store
    assert isinstance(store, FakeMind)
    observe_turn(deps, turn(1, NEWS))
    told = next(m for m in store.read_pair("demo", "mira", "p1").memories if m.kind is MemoryKind.PLAYER_SAID)
    caller = PLAYER if who == "player" else STUDIO
    forgotten = api.forget(store, caller, "demo", "mira", told.memory_id, about="p1")
    assert forgotten.copies == 1
    assert store.get("demo", "mira", "p1", told.memory_id) is None
    assert _heard(store, "borin") == []
