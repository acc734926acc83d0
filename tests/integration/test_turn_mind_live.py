"""The NPC turn with its mind on the local backend (real WebSocket clients, gateway, moto, the model,
the bus): lore within each NPC's knowledge filters from the real index, memories written by the
consumer and marked accessed once a turn used them, game time moved by the runtime's clock."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from aicore import wiring
from aicore.auth import Role
from aicore.clock import GAME_CLOCK, stamp
from aicore.knowledge.models import DocumentStatus
from aicore.local.runtime import LocalRuntime, local_token
from tests.clients import final_answers
from tests.minds import FACT
from tests.waiting import eventually

pytestmark = [pytest.mark.model, pytest.mark.timeout(1200)]  # a shared 2-core CPU runs the model
TURN_S = 600


@pytest.fixture
def game_clock() -> Iterator[None]:
    """Tests that move game time put it back (the runtime is shared by the package)."""
    yield
    GAME_CLOCK.reset()


def _ws(runtime: LocalRuntime, token: str) -> str:
    return f"ws://127.0.0.1:{runtime.options.port}/ws?token={token}"


def _say(npc: str, text: str, request_id: str = "t1", **fields: Any) -> dict[str, Any]:
    return {"action": "npc.say", "request_id": request_id, "npc_id": npc, "text": text, **fields}


def _demo_lore_ready() -> bool:
    documents = wiring.knowledge_store().list("demo")
    return len(documents) == 4 and all(d.status is DocumentStatus.READY for d in documents)


def test_each_npc_brings_only_the_lore_it_may_know_into_its_turn(runtime: LocalRuntime) -> None:
    # Given the demo world's lore, ingested at start (its letters of the old king are Sable's alone)
    eventually(_demo_lore_ready, timeout_s=TURN_S, what="the demo lore ingested")
    studio = local_token(f"tester-{uuid.uuid4().hex[:8]}", "demo", (Role.STUDIO,))
    question = "Where does the old king hide? I heard of letters."
    # When the studio asks Sable and Mira the same question, with debug
    sable, mira = final_answers(
        _ws(runtime, studio),
        [_say("sable", question, debug=True), _say("mira", question, "t2", debug=True)],
        timeout_s=TURN_S,
    )
    # Then Sable's prompt had the letters, Mira's did not; each with its scores
    assert sable["ok"], sable
    assert mira["ok"], mira
    sable_lore = [hit["text"] for hit in sable["data"]["context"]["lore"]]
    mira_lore = [hit["text"] for hit in mira["data"]["context"]["lore"]]
    assert any("crowned heron" in text for text in sable_lore), sable_lore
    assert not any("crowned heron" in text for text in mira_lore), mira_lore
    assert all(hit["scores"]["vector"] is not None for hit in sable["data"]["context"]["lore"])
    # And each knew the world around it: the time, its region's weather, from the pushed demo world
    for answer, region, name in (
        (sable, "the-roads", "The roads around Emberfall"),
        (mira, "emberfall", "Emberfall"),
    ):
        world = answer["data"]["context"]["world"]
        assert (world["region_id"], world["region_name"]) == (region, name), world
        assert world["lines"][0].startswith("It is "), world
        assert world["lines"][1].startswith(f"In {name} the weather is "), world


def test_a_memory_the_turn_used_is_marked_accessed_in_game_time(
    runtime: LocalRuntime, game_clock: None
) -> None:
    # Given a tester told Mira a fact, and the mind's consumer remembered it
    tester = f"tester-{uuid.uuid4().hex[:8]}"
    token = local_token(tester, "demo", (Role.STUDIO,))
    (told,) = final_answers(_ws(runtime, token), [_say("mira", FACT)], timeout_s=TURN_S)
    assert told["ok"], told
    store = wiring.mind_store()

    def fact() -> Any:
        return next((m for m in store.read_pair("demo", "mira", tester).memories if m.text == FACT), None)

    remembered = eventually(fact, timeout_s=TURN_S, what="Mira remembering the fact")
    # When three days of game time pass and the tester asks about it
    GAME_CLOCK.advance(timedelta(days=3))
    (asked,) = final_answers(
        _ws(runtime, token), [_say("mira", "Who took my sister?", "t2", debug=True)], timeout_s=TURN_S
    )
    # Then the turn used it, faded by three days ...
    assert asked["ok"], asked
    (used,) = [m for m in asked["data"]["context"]["memories"] if m["memory_id"] == remembered.memory_id]
    assert 0.6 < used["scores"]["recency"] < 0.8  # 0.995 ** 72
    # ... and the consumer marks it accessed at the turn's game time
    touched = eventually(
        lambda: (m := fact()) is not None and m.last_access > remembered.last_access and m,
        timeout_s=TURN_S,
        what="the used memory marked accessed",
    )
    assert touched.last_access >= stamp(GAME_CLOCK() - timedelta(minutes=10))
