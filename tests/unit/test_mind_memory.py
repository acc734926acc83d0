"""After each turn the NPC remembers both lines, marks what it used, feels, forgets within bounds and
asks for reflection; every step tolerates redelivery."""

from __future__ import annotations

from datetime import timedelta

from aicore.mind.emotions import Emotion
from aicore.mind.events import ReflectionDue
from aicore.mind.models import MemoryKind, MemorySource
from aicore.mind.policy import MindPolicy
from aicore.mind.service import observe_turn, witness
from aicore.mind.store import PairView, pair_pk
from aicore.topology import REFLECTION_DUE
from aicore.world.store import Feeling
from tests.fakes import FakeMind, FakePublisher, FakeWorld
from tests.minds import START, mind_deps, turn


def test_a_turn_becomes_two_memories_with_their_scores_and_vectors() -> None:
    deps = mind_deps()
    done = observe_turn(
        deps, turn(1, "My name is Aldric and my sister Elara was taken by bandits.", "Oh, love.")
    )
    assert done is not None
    assert done.written
    said, replied = sorted(deps.store.read_pair("demo", "mira", "p1").memories, key=lambda m: m.kind.value)[
        ::-1
    ]
    assert (said.kind, replied.kind) == (MemoryKind.PLAYER_SAID, MemoryKind.NPC_SAID)
    assert said.source is MemorySource.TURN
    assert said.subjects == ("p1",)
    assert said.importance >= 7 > replied.importance
    assert said.embedder == deps.embedder.name
    assert len(said.vector) == 2 * deps.embedder.dimensions
    assert said.created_at == said.last_access == turn(1, "").occurred_at


def test_each_event_delivered_twice_writes_nothing_twice() -> None:
    # Given a consumer that sees every one of ten turns twice (EventBridge may redeliver)
    deps = mind_deps()
    store, world = deps.store, deps.world
    assert isinstance(store, FakeMind)
    assert isinstance(world, FakeWorld)
    lines = ["Thank you, friend!", "I promise to repay you.", "You stupid liar."] * 3 + ["Hello."]
    outcomes = []
    for n, line in enumerate(lines):
        for _ in range(2):
            outcomes.append(observe_turn(deps, turn(n, line)))
    # Then each turn was written once, felt once, and the second delivery said so
    assert [o.written for o in outcomes if o] == [True, False] * len(lines)
    assert [o.feeling for o in outcomes if o][:2] == [Feeling.FELT, Feeling.ALREADY]
    assert store.count("demo", "mira", "p1") == 2 * len(lines)
    relationship = world.relationships[("demo", "mira", "p1")]
    assert relationship.version == len(lines)
    assert world.emotions[("demo", "mira")].version == len(lines)
    state = store.states[pair_pk("demo", "mira", "p1")]
    assert state.importance_since_reflection == sum(
        m.importance for m in store.read_pair("demo", "mira", "p1").memories
    )


class CompactedMeanwhile(FakeMind):
    """A pair whose listed memories another consumer's compaction forgets right after they are read."""

    forget_after_read: tuple[str, ...] = ()

    def read_pair(self, world_id: str, npc_id: str, player_id: str) -> PairView:
        view = super().read_pair(world_id, npc_id, player_id)
        self.compact(world_id, npc_id, player_id, self.forget_after_read, None)
        self.forget_after_read = ()
        return view


def test_a_redelivered_turn_whose_lines_were_forgotten_meanwhile_compacts_each_memory_once() -> None:
    # Given a pair at its bound (8): three weighty turns, then small talk (its lines the least valuable)
    store = CompactedMeanwhile()
    deps = mind_deps(store=store, policy=MindPolicy(max_pair_memories=8, compact_batch=4))
    weighty = ["My sister Elara was taken by bandits.", "I swear I will find her.", "The bandits fled north."]
    for n, line in enumerate(weighty):
        observe_turn(deps, turn(n, line))
    small_talk = turn(3, "Hello.")
    observe_turn(deps, small_talk)
    assert store.count("demo", "mira", "p1") == 8
    # When it is delivered again, and another consumer's compaction forgets its lines between this
    # delivery's read and its write (so they are read, then written again)
    store.forget_after_read = tuple(
        m.memory_id
        for m in store.read_pair("demo", "mira", "p1").memories
        if m.created_at == small_talk.occurred_at
    )
    assert len(store.forget_after_read) == 2
    redelivered = observe_turn(deps, small_talk)
    # Then no compaction names a memory twice (DynamoDB refuses one that does), and each is held once
    assert redelivered is not None
    held = [m.memory_id for m in store.read_pair("demo", "mira", "p1").memories]
    assert len(held) == len(set(held)) <= 8


def test_memories_a_turn_used_are_marked_accessed_never_back_in_time() -> None:
    deps = mind_deps()
    observe_turn(deps, turn(1, "My horse is called Mist."))
    used = [m.memory_id for m in deps.store.read_pair("demo", "mira", "p1").memories]
    later = START + timedelta(hours=5)
    done = observe_turn(deps, turn(2, "How is Mist?", at=later, used=used))
    assert done is not None
    assert done.touched == 2
    # An older turn delivered late does not move the access back
    observe_turn(deps, turn(3, "Hm.", at=START + timedelta(hours=1), used=used))
    touched = {m.memory_id: m.last_access for m in deps.store.read_pair("demo", "mira", "p1").memories}
    assert all(touched[i] == turn(2, "", at=later).occurred_at for i in used)
    # Used again within the hour: recency would hardly move, so nothing is written
    again = observe_turn(deps, turn(4, "Mist again.", at=later + timedelta(minutes=30), used=used))
    assert again is not None
    assert again.touched == 0


def test_relationship_and_emotion_follow_the_turns_within_their_scales() -> None:
    deps = mind_deps()
    for n in range(40):
        observe_turn(deps, turn(n, "Thank you, kind friend, I promise I will repay you!"))
    world = deps.world
    assert isinstance(world, FakeWorld)
    relationship = world.relationships[("demo", "mira", "p1")]
    assert relationship.trust == 100
    assert relationship.affinity == 100
    assert len(relationship.history) == deps.policy.relationship_history
    assert relationship.history[-1].reason == "kind words, a promise"
    emotion = world.emotions[("demo", "mira")]
    assert emotion.intensities[Emotion.JOY] > 0.9
    for n in range(40, 45):
        observe_turn(deps, turn(n, "You useless fool, I hate you."))
    assert world.relationships[("demo", "mira", "p1")].affinity < 100
    assert world.emotions[("demo", "mira")].intensities[Emotion.ANGER] > 0.5


def test_reflection_is_asked_for_when_importance_passes_the_threshold_with_one_number() -> None:
    deps = mind_deps(policy=MindPolicy(reflection_threshold=12))
    publisher = deps.events
    assert isinstance(publisher, FakePublisher)
    observe_turn(deps, turn(1, "Hello."))
    assert publisher.published == []
    observe_turn(deps, turn(2, "My sister Elara was kidnapped by the Red Hand bandits, help me!"))
    observe_turn(deps, turn(2, "My sister Elara was kidnapped by the Red Hand bandits, help me!"))  # again
    due = [d for _, t, d in publisher.published if t == REFLECTION_DUE]
    assert len(due) == 2
    assert all(isinstance(d, ReflectionDue) and d.reflection == 0 for d in due)


def test_witnessed_events_reach_the_pairs_copy_one_turn_later() -> None:
    deps = mind_deps()
    observe_turn(deps, turn(1, "Hello."))
    assert (
        witness(
            deps,
            "demo",
            ["mira", "borin"],
            "The mill by the river burned down.",
            "ev-1",
            turn(2, "").occurred_at,
            6,
        )
        == 2
    )
    assert (
        witness(
            deps, "demo", ["mira"], "The mill by the river burned down.", "ev-1", turn(2, "").occurred_at, 6
        )
        == 0
    )
    assert deps.store.turn_memories("demo", "mira", "p1").general == []
    observe_turn(deps, turn(3, "Any news?"))
    general = deps.store.turn_memories("demo", "mira", "p1").general
    assert [m.text for m in general] == ["The mill by the river burned down."]
    assert general[0].kind is MemoryKind.WITNESSED
    assert general[0].general


def test_a_new_embedder_reindexes_old_memories_after_turns_never_mixing_spaces() -> None:
    # Given memories embedded by an older embedder
    deps = mind_deps()
    observe_turn(deps, turn(1, "My horse is called Mist."))
    store = deps.store
    assert isinstance(store, FakeMind)
    for memory in store.read_pair("demo", "mira", "p1").memories:
        store.revector(
            memory.model_copy(update={"embedder": "static:old", "vector": b"\x00\x3c" * 8}), memory.embedder
        )
    assert {m.embedder for m in store.read_pair("demo", "mira", "p1").memories} == {"static:old"}
    # When the next turn is taken in
    done = observe_turn(deps, turn(2, "Hello."))
    # Then every memory is in the current embedder's space again
    assert done is not None
    assert done.reindexed == 2
    assert {m.embedder for m in store.read_pair("demo", "mira", "p1").memories} == {deps.embedder.name}
    assert all(
        len(m.vector) == 2 * deps.embedder.dimensions for m in store.read_pair("demo", "mira", "p1").memories
    )
