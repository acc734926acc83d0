"""An NPC of a faction with a language sprinkles it into its reply (streamed as stored), lists it
in `data.phrases`, and the player's proficiency grows by what they heard until translations show."""

from __future__ import annotations

import json
from typing import Any

from aicore.language.lexicon import PhraseKind, lexicon_of
from aicore.language.proficiency import proficiency
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.npc.events import NpcTurnCompleted
from aicore.npc.turn import TurnDeps
from aicore.topology import NPC_SOURCE, NPC_TURN_COMPLETED, TOPOLOGY
from aicore.world.content import Language
from aicore.world.definition import WorldDefinition
from aicore.world.models import Npc
from tests.events import load_event
from tests.fakes import FakePublisher, FakePusher, FakeSessions, FakeWorld, ScriptedEndpoint
from tests.minds import mind_deps
from tests.npc_turns import say, turn_deps
from tests.world_fakes import FakeWorldState, demo_content

ASHTONGUE = lexicon_of(Language(name="Ashtongue", seed="ashtongue-1"))
VEX = Npc(
    npc_id="vex",
    world_id="demo",
    name="Vex",
    persona="Bandit captain.",
    speech_style="Clipped.",
    greeting="Pay the toll.",
    fallback_lines=["Not now."],
    faction="ashen-hand",
    region="north-pass",
)


def _deps(tokens: tuple[str, ...] = ("Well ", "met, ", "traveller.")) -> TurnDeps:
    state = FakeWorldState()
    state.put_definition(WorldDefinition.of(demo_content(), 1))
    deps = turn_deps(FakeWorld(), ScriptedEndpoint(tokens=tokens), world_state=state)
    deps.world.put_npc(VEX)
    return deps


def _streamed(pusher: FakePusher, request_id: str) -> str:
    return "".join(f["data"]["text"] for f in pusher.of_type("npc.token") if f["request_id"] == request_id)


def _stored(deps: TurnDeps, session_id: str) -> list[str]:
    sessions = deps.sessions.store
    assert isinstance(sessions, FakeSessions)
    return [m.text for m in sessions.messages[session_id] if m.speaker.id == "vex"]


def test_vex_greets_in_ashtongue_streamed_exactly_as_stored_and_announced() -> None:
    # Given the model answers with stray spaces around its words
    deps = _deps(tokens=("  Well ", "met, ", "traveller. \n"))
    # When a player speaks to Vex for the first time
    pusher = say(deps, npc_id="vex")
    [reply] = pusher.of_type("npc.reply")
    # Then the reply opens with an Ashtongue greeting, and the player got every word of it streamed
    [greeting] = [
        p for p in ASHTONGUE.of_kind(PhraseKind.GREETING) if reply["data"]["text"].startswith(p.text)
    ]
    assert reply["data"]["text"] == f"{greeting.text}! Well met, traveller."
    assert _streamed(pusher, "r-1") == reply["data"]["text"]
    assert _stored(deps, reply["data"]["session_id"]) == [reply["data"]["text"]]
    # And data.phrases lists it, untranslated: the player has never heard Ashtongue
    assert reply["data"]["phrases"] == [
        {"text": greeting.text, "language": "ashtongue", "translation": None, "proficiency": 0}
    ]
    # And the event tells the consumer one phrase of Ashtongue was heard
    assert isinstance(deps.events, FakePublisher)
    [(_, _, detail)] = deps.events.published
    assert isinstance(detail, NpcTurnCompleted)
    assert detail.phrases_heard == {"ashtongue": 1}
    assert detail.reply == reply["data"]["text"]


def test_an_npc_without_a_language_adds_nothing() -> None:
    deps = _deps()
    [reply] = say(deps).of_type("npc.reply")  # Mira: no faction
    assert reply["data"]["text"] == "Well met, traveller."
    assert reply["data"]["phrases"] == []
    assert isinstance(deps.events, FakePublisher)
    assert deps.events.published[0][2].phrases_heard == {}  # type: ignore[attr-defined]


def _consume(deps: TurnDeps, detail: Any) -> None:
    """The NPC Turn Completed consumer (npc-memory), over the same fake world."""
    fn = TOPOLOGY.function("npc-memory")
    event = load_event("eventbridge", source=NPC_SOURCE, detail=detail.model_dump(mode="json"))
    event["detail-type"] = NPC_TURN_COMPLETED
    assert isinstance(deps.world, FakeWorld)
    handler = Lambdas().module(fn).handler
    handler(
        event,
        LambdaContext(fn.name, fn.memory_mb, fn.timeout_s),
        world=deps.world,
        mind=mind_deps(deps.world),
    )


def test_repeated_turns_raise_proficiency_until_a_translation_is_revealed() -> None:
    # Given a player talking to Vex turn after turn, each turn's event consumed (twice: redelivered)
    deps = _deps()
    assert isinstance(deps.events, FakePublisher)
    revealed: dict[str, Any] | None = None
    levels: list[int] = []
    for turn in range(1, 30):
        pusher = say(
            deps,
            npc_id="vex",
            correlation_id=f"c-{turn}",
            request_id=f"r-{turn}",
            text="What news from the pass?",
        )
        reply = pusher.of_type("npc.reply")[-1]["data"]
        assert reply["text"] == _streamed(pusher, f"r-{turn}")
        levels.append(reply["phrases"][0]["proficiency"])
        detail = deps.events.published[-1][2]
        _consume(deps, detail)
        _consume(deps, detail)
        if revealed := next((p for p in reply["phrases"] if p["translation"] is not None), None):
            break
    # Then proficiency grew with every turn (one phrase heard each, counted once) ...
    assert levels == [proficiency(n) for n in range(len(levels))]
    assert isinstance(deps.world, FakeWorld)
    assert deps.world.proficiencies[("demo", "p1")].heard == {"ashtongue": len(levels)}
    # ... until a phrase's difficulty was reached and its translation shown
    assert revealed is not None, levels
    [phrase] = [p for p in ASHTONGUE.phrases if p.text == revealed["text"]]
    assert revealed["translation"] == phrase.translation
    assert revealed["proficiency"] >= phrase.difficulty > levels[-2]


def test_a_turn_frame_is_answered_in_json_with_phrases_in_the_envelope() -> None:
    deps = _deps()
    frames = say(deps, npc_id="vex").frames
    reply = next(f for _, f in frames if f["type"] == "npc.reply")
    assert json.loads(json.dumps(reply))["data"]["phrases"][0]["language"] == "ashtongue"
