"""The NPC turn with its mind: memories, lore within knowledge filters, relationship and mood in the
prompt; `npc.reply`'s emotion and relationship; the studio's debug context; the costs (one Query,
one index load per version, no model call unless the mode allows it)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from aicore.auth import Caller, Role
from aicore.errors import ModelUnavailable
from aicore.knowledge.filters import Audience
from aicore.knowledge.models import KnowledgeTags
from aicore.llm.embedding import Vectors
from aicore.mind.relationship import Relationship, RelationshipChange, label
from aicore.mind.service import observe_turn
from aicore.npc.events import NpcTurnCompleted
from aicore.npc.recollection import within_budget
from aicore.npc.turn import TurnDeps
from aicore.performance import PerformanceMode
from aicore.platform.settings import SettingsDeps, update_world
from tests.edge_calls import MIRA_SHEET, mira_is_private
from tests.fakes import FakeMind, FakePublisher, FakeSessions, FakeWorld, ScriptedEndpoint
from tests.knowledge_fakes import FakeKnowledgeObjects, FakeKnowledgeStore, HashEmbedder
from tests.minds import FACT, START, mind_deps, turn
from tests.npc_turns import PLAYER, publish_lore, say, turn_deps, turn_mind

STUDIO = Caller(subject="tools", world_id="demo", roles=(Role.STUDIO,))
ADMIN = Caller(subject="root", world_id="demo", roles=(Role.ADMIN,))
THREE_DAYS_LATER = START + timedelta(days=3)
COMMON = "The Gilded Goose is the only inn of Emberfall; its stew is famous."
TOWNSFOLK = "The regent council keeps a second ledger of silver skimmed from the forge tithe."
SABLE_ONLY = "The old king hides in the Sunken Library, signing his letters with a crowned heron."
LORE = [
    (COMMON, KnowledgeTags()),
    (TOWNSFOLK, KnowledgeTags(factions=("Emberfall townsfolk",))),
    (SABLE_ONLY, KnowledgeTags(npcs=("sable",))),
]
PRIVATE_SHEET = ("persona", "speech_style", "secrets")


class Stores:
    """A turn's world over fakes, with Mira's mind (of tests.minds: townsfolk of Emberfall)."""

    def __init__(self, embedders: tuple[Any, ...] = ()) -> None:
        self.world = FakeWorld()
        self.memories = FakeMind()
        self.knowledge = FakeKnowledgeStore()
        self.objects = FakeKnowledgeObjects()
        self.endpoint = ScriptedEndpoint()
        mind = turn_mind(self.world, self.memories, self.knowledge, self.objects, embedders)
        self.deps: TurnDeps = turn_deps(self.world, self.endpoint, mind)
        self.deps.game_clock = lambda: THREE_DAYS_LATER
        self.minds = mind_deps(self.world, self.memories)  # puts Mira (with her faction) in the world

    def remember(self, *lines: str, player: str = "p1") -> None:
        """`player` told Mira these lines, a minute apart, three days ago (the mind's consumer ran)."""
        for n, line in enumerate(lines):
            observe_turn(self.minds, turn(n, line, player_id=player))

    def lore(self, embedder: Any = None, revision: int = 1) -> None:
        extra = {} if embedder is None else {"embedder": embedder}
        publish_lore(self.knowledge, self.objects, "demo", LORE, revision=revision, **extra)

    @property
    def system_prompt(self) -> str:
        return self.endpoint.last_messages[0].content


def _reply(stores: Stores, caller: Caller = PLAYER, **frame: Any) -> dict[str, Any]:
    """The last frame of `caller`'s turn: `npc.reply` or `error`."""
    reply: dict[str, Any] = say(stores.deps, caller, **frame).frames[-1][1]
    return reply


def test_the_prompt_holds_what_mira_remembers_knows_and_feels() -> None:
    # Given Mira remembers what p1 told her three days ago, likes them, and her world has lore
    stores = Stores()
    stores.remember(FACT, "Is the stew good tonight?")
    stores.lore()
    relationship = Relationship.first("demo", "mira", "p1").changed(
        RelationshipChange(
            at="2026-11-01T18:00:00.000+00:00", trust=9, affinity=9, reason="kind", turn_id="t"
        ),
        10,
    )
    stores.world.relationships[("demo", "mira", "p1")] = relationship
    # When p1 asks about their sister
    reply = _reply(stores, text="Have you heard anything about my missing sister Elara?")
    # Then the prompt has the memory first, the lore Mira may know, her feelings and her mood
    system = stores.system_prompt
    assert "What you remember of this traveller (most relevant first):\n- They told you: " + FACT in system
    assert COMMON in system
    assert TOWNSFOLK in system  # her faction's lore
    assert SABLE_ONLY not in system  # Sable's alone
    assert "How you feel about them:" in system
    assert "trust 9" in system
    assert "Your mood:" in system
    # And the reply carries her emotion and relationship, and no context (a player asked)
    data = reply["data"]
    assert data["relationship"] == {"trust": 9, "affinity": 9, "label": label(9, 9)}
    assert set(data["emotion"]) == {"dominant", "intensities"}
    assert data["emotion"]["intensities"]["joy"] > 0  # her temperament is cheerful
    assert data["context"] is None


@pytest.mark.parametrize("caller", [STUDIO, ADMIN], ids=["studio", "admin"])
def test_a_studio_debug_turn_shows_what_went_into_the_prompt_with_scores(caller: Caller) -> None:
    # Given Mira's memories of the studio's tester, and lore
    stores = Stores()
    stores.remember(FACT, "Is the stew good tonight?", "Lovely fire.", player=caller.subject)
    stores.lore()
    # When the tester asks with "debug": true
    reply = _reply(stores, caller, text="Who took my sister? I am staying at the inn tonight.", debug=True)
    # Then the context lists the memories best first with their four scores, the lore with its
    # scores (only what Mira may know), her relationship and her emotion
    context = reply["data"]["context"]
    memories = context["memories"]
    assert memories[0]["text"] == FACT
    assert set(memories[0]["scores"]) == {"recency", "importance", "relevance", "total"}
    totals = [m["scores"]["total"] for m in memories]
    assert totals == sorted(totals, reverse=True)
    assert 0 < memories[0]["scores"]["recency"] < 1  # three days old
    assert [hit["text"] for hit in context["lore"]]
    assert all(set(hit["scores"]) == {"keyword", "vector", "total"} for hit in context["lore"])
    assert SABLE_ONLY not in json.dumps(context)
    assert context["relationship"] == reply["data"]["relationship"]
    assert context["emotion"] == reply["data"]["emotion"]
    # And the event names exactly the memories the prompt used
    assert isinstance(stores.deps.events, FakePublisher)
    [(_, _, detail)] = stores.deps.events.published
    assert isinstance(detail, NpcTurnCompleted)
    assert detail.memory_ids == [m["memory_id"] for m in memories]
    assert detail.occurred_at.startswith("2026-11-04T18:00")  # the game clock's time


@pytest.mark.parametrize(
    "caller",
    [PLAYER, Caller(subject="npc-svc", world_id="demo", roles=(Role.NPC,))],
    ids=["player", "npc-service"],
)
def test_debug_from_a_player_token_is_refused_before_anything_is_read_or_written(caller: Caller) -> None:
    stores = Stores()
    reply = _reply(stores, caller, debug=True)
    assert reply["type"] == "error"
    assert reply["error"]["code"] == "forbidden"
    assert "studio or admin" in reply["error"]["message"]
    assert isinstance(stores.deps.sessions.store, FakeSessions)
    assert all(not messages for messages in stores.deps.sessions.store.messages.values())
    assert stores.memories.queries == 0
    assert isinstance(stores.deps.events, FakePublisher)
    assert stores.deps.events.published == []


def test_debug_must_be_a_json_boolean() -> None:
    reply = _reply(Stores(), STUDIO, debug="true")
    assert reply["error"]["code"] == "invalid_request"


def test_a_turn_reads_the_mind_once_and_loads_a_lore_index_once_per_version() -> None:
    # Given lore published once
    stores = Stores()
    stores.remember(FACT)
    stores.lore()
    reads = stores.memories.queries
    # When p1 speaks twice, then the studio publishes a new version, and p1 speaks again
    _reply(stores)
    _reply(stores, request_id="r-2")
    loads_before = stores.objects.index_reads
    stores.lore(revision=2)
    _reply(stores, request_id="r-3")
    # Then each turn made one memory Query, no pointer read of its own (the world batch had them),
    # and the index was read from S3 once per version
    assert stores.memories.queries - reads == 3
    assert stores.knowledge.pointer_reads == 0
    assert (loads_before, stores.objects.index_reads) == (1, 2)


class FailingEmbedder(HashEmbedder):
    def embed(self, texts: Any) -> Vectors:
        self.calls += 1
        raise ModelUnavailable("embed tier down", {"reason": "test"})


@pytest.mark.parametrize(
    ("mode", "embedder", "model_calls", "has_vector"),
    [
        (PerformanceMode.FAST, HashEmbedder("embed:minilm"), 0, False),
        (PerformanceMode.BALANCED, HashEmbedder("embed:minilm"), 0, False),
        (PerformanceMode.QUALITY, HashEmbedder("embed:minilm"), 1, True),
        (PerformanceMode.QUALITY, FailingEmbedder("embed:minilm"), 1, False),
    ],
    ids=["fast", "balanced", "quality", "quality-tier-down"],
)
def test_an_index_of_the_embed_tier_costs_a_model_call_only_in_quality_mode(
    mode: PerformanceMode, embedder: HashEmbedder, model_calls: int, has_vector: bool
) -> None:
    # Given the world's lore embedded by the embed tier, and the world in `mode`
    stores = Stores(embedders=(embedder,))
    stores.lore(embedder=HashEmbedder("embed:minilm"))
    settings = SettingsDeps(stores.deps.settings.store)
    update_world(settings, STUDIO, "demo", lambda s: s.model_copy(update={"performance_mode": mode}))
    calls_before = embedder.calls
    # When the studio asks with debug
    reply = _reply(stores, STUDIO, text="Where can I find the inn with the famous stew?", debug=True)
    # Then the tier is asked only in quality mode; without its vector the lore is found by keywords
    assert reply["ok"], reply
    assert embedder.calls - calls_before == model_calls
    lore = reply["data"]["context"]["lore"]
    assert lore[0]["text"] == COMMON
    assert (lore[0]["scores"]["vector"] is not None) == has_vector


def test_a_lore_index_that_cannot_be_read_costs_the_reply_nothing() -> None:
    # Given a pointer to an index object that is not there
    stores = Stores()
    stores.lore()
    stores.objects.indexes.clear()
    # When p1 speaks
    reply = _reply(stores, STUDIO, debug=True)
    # Then Mira answers, without lore
    assert reply["ok"], reply
    assert reply["data"]["context"]["lore"] == []


def test_lore_goes_in_within_its_budget() -> None:
    stores = Stores()
    publish_lore(stores.knowledge, stores.objects, "demo", [("word " * 400, KnowledgeTags())])
    pointers = tuple(stores.world.pointers.values())
    hits = stores.deps.mind.knowledge.relevant("demo", Audience.studio(), "word", pointers=pointers)
    (kept,) = within_budget(hits, 100)
    assert len(kept.text) <= 400 + 1
    assert kept.text.endswith("…")
    assert within_budget(hits * 2, 600) == hits  # 2,000 characters each: the second would not fit


def test_days_of_game_time_fade_what_was_said_but_not_what_mattered() -> None:
    # Given small talk and the fact, told on the same evening
    stores = Stores()
    stores.remember("Lovely weather for a walk by the mill.", FACT, player=STUDIO.subject)
    stores.deps.game_clock = lambda: START + timedelta(days=30)
    # When the studio asks a month of game time later
    reply = _reply(stores, STUDIO, text="Do you remember my sister?", debug=True)
    # Then both have faded alike, and the fact still comes first
    memories = reply["data"]["context"]["memories"]
    assert memories[0]["text"] == FACT
    assert all(m["scores"]["recency"] < 0.05 for m in memories)


def test_no_frame_of_a_players_turn_carries_the_sheet_memories_or_lore() -> None:
    # Given Mira's sheet with sentinels in its private fields, her memories of p1 and of p2, and lore
    stores = Stores()
    sheet = stores.world.npcs[("demo", "mira")]
    stores.world.put_npc(sheet.model_copy(update={k: v for k, v in MIRA_SHEET if k in PRIVATE_SHEET}))
    stores.remember(FACT, player="p1")
    stores.remember("I am Corwin and I hid the stolen crown under the bridge.", player="p2")
    stores.lore()
    # When p1 asks about their sister and the inn (the prompt gets her memories and lore)
    pusher = say(stores.deps, PLAYER, text="Who took my sister? Is the inn safe tonight?")
    assert FACT in stores.system_prompt
    assert COMMON in stores.system_prompt
    # Then what p1 receives holds her feelings, and nothing of her sheet, her memories or the lore
    frames = json.dumps([frame for _, frame in pusher.frames])
    assert mira_is_private(frames)
    for text in (FACT, "Corwin", COMMON, TOWNSFOLK, SABLE_ONLY):
        assert text not in frames
    reply = pusher.frames[-1][1]["data"]
    assert reply["context"] is None
    assert {"emotion", "relationship"} <= set(reply)
    # And a studio's debug context shows the prompt's memories and lore, never the sheet's secrets
    studio = _reply(stores, STUDIO, text="Is the inn safe tonight?", debug=True, request_id="r-2")
    assert mira_is_private(json.dumps(studio["data"]["context"]))
