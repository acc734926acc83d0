"""Quests: offers (template or generated, validated), accept, objective reports, the flow's steps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from aicore.auth import Caller, Role
from aicore.errors import Conflict, Forbidden, NotFound
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.mind.policy import MindPolicy
from aicore.npc.events import NpcTurnCompleted
from aicore.quests.generation import GenerationDeps
from aicore.quests.models import QuestOffer, QuestSource, QuestState
from aicore.quests.service import (
    ObjectiveReport,
    OfferDeps,
    QuestDeps,
    StepDeps,
    StepInput,
    abandon,
    accept,
    await_progress,
    complete,
    expire,
    list_quests,
    prepare_offer,
    report_objective,
)
from aicore.topology import (
    GAME_SOURCE,
    NPC_SOURCE,
    NPC_TURN_COMPLETED,
    QUEST_LIFE_FLOW,
    QUEST_OBJECTIVE_REPORTED,
    TOPOLOGY,
)
from aicore.world.definition import WorldDefinition
from aicore.world.facts import FactDeps
from aicore.world.push import PushDeps, push_world
from tests.edge_calls import PLAYER, STUDIO
from tests.fakes import FakeFlows, FakePublisher, FakeWorld, ScriptedEndpoint
from tests.handlers import invoke
from tests.npc_turns import say, turn_deps
from tests.quest_fakes import FakeQuestStore, FakeSignals, ScriptedRouter
from tests.unit.test_redelivery import _delivered_twice
from tests.world_fakes import FakeLore, FakeWorldState, demo_content

GAME = Caller(subject="server-1", world_id="demo", roles=(Role.GAME_SERVER,))
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

GOOD = json.dumps(
    {
        "title": "A Pack at the Crossroads",
        "summary": "Wolves stalk the crossroads at dusk and Mira's guests turn back before they reach town.",
        "hook": "The crossroads wolves have my guests too scared to travel; be a dear and deal with them.",
        "objectives": [
            {"objective_id": "go", "kind": "visit", "target": "the-roads", "count": 1, "description": "Go."},
            {"objective_id": "wolves", "kind": "defeat", "target": "wolf", "count": 2, "description": "Two."},
        ],
    }
)


class World:
    def __init__(self, answers: list[str | None]) -> None:
        self.state = FakeWorldState()
        self.world = FakeWorld()
        push_world(
            PushDeps(content=self.state, world=self.world, lore=FakeLore()),
            STUDIO,
            "demo",
            demo_content(),
            dry_run=False,
        )
        self.store = FakeQuestStore()
        self.events = FakePublisher()
        self.flows = FakeFlows()
        self.signals = FakeSignals()
        self.router = ScriptedRouter(answers)
        self.now = NOW

    def clock(self) -> datetime:
        return self.now

    def offers(self) -> OfferDeps:
        return OfferDeps(
            self.store,
            self.state,
            self.world,
            self.state,
            GenerationDeps(self.router),
            self.events,
            self.clock,
        )

    def deps(self) -> QuestDeps:
        return QuestDeps(self.store, self.events, self.flows, self.signals, self.clock)

    def steps(self) -> StepDeps:
        return StepDeps(self.deps(), self.world, FactDeps(self.state, self.events, self.clock), MindPolicy())

    def types(self) -> list[str]:
        return [t for _, t, _ in self.events.published]


def test_an_npc_offers_a_generated_quest_that_keeps_the_templates_rewards() -> None:
    world = World([GOOD])
    offer = prepare_offer(world.offers(), "demo", "mira", "p1", "c1")
    assert offer is not None
    assert offer.title == "A Pack at the Crossroads"
    quest = world.store.quest("demo", "p1", offer.quest_id)
    assert quest is not None
    assert quest.source is QuestSource.MODEL
    assert quest.rewards.currency == 20  # the template's, whatever the model wrote
    # The prompt carried the schema, the giver's goals and the world's lists of targets
    prompt = "\n".join(m.content for m in world.router.requests[0].messages)
    assert '"objectives"' in prompt
    assert "Fill the Gilded Goose" in prompt
    assert "the-roads" in prompt
    # Asked again (a redelivered turn), the same offer and no model call
    assert prepare_offer(world.offers(), "demo", "mira", "p1", "c1") == offer
    assert len(world.router.requests) == 1
    assert world.types() == ["Quest Offered"]


@pytest.mark.parametrize(
    "bad",
    [
        "Sure! Here is a quest about wolves.",
        GOOD.replace('"the-roads"', '"atlantis"'),  # a region the game cannot report
        GOOD.replace('"defeat"', '"dance"'),
        GOOD.replace('"count": 2', '"count": 500'),
        json.dumps({**json.loads(GOOD), "reward": 10_000}),  # a field the schema does not have
    ],
    ids=["prose", "unknown-target", "unknown-kind", "too-many", "extra-field"],
)
def test_a_generation_that_fails_validation_never_reaches_a_player(bad: str) -> None:
    # Given a model that answers out of form twice
    world = World([bad, bad])
    offer = prepare_offer(world.offers(), "demo", "mira", "p1", "c1")
    # Then it was asked once more, and the template's own quest is offered: nothing of the answers
    assert len(world.router.requests) == 2
    assert offer is not None
    assert offer.title == "Wolves on the Roads"
    stored = list(world.store.quests.values())
    assert [q.source for q in stored] == [QuestSource.TEMPLATE]
    assert all("atlantis" not in q.model_dump_json() and "dance" not in q.model_dump_json() for q in stored)


def test_a_rejected_first_answer_is_retried_once() -> None:
    world = World(["not json", GOOD])
    offer = prepare_offer(world.offers(), "demo", "mira", "p1", "c1")
    assert offer is not None
    assert offer.title == "A Pack at the Crossroads"


def test_no_tier_answering_offers_the_template() -> None:
    world = World([None])
    offer = prepare_offer(world.offers(), "demo", "mira", "p1", "c1")
    assert offer is not None
    assert offer.title == "Wolves on the Roads"
    assert len(world.router.requests) == 1


def test_with_the_template_as_writer_no_model_is_asked() -> None:
    # Given QUEST_WRITER=template (no generation)
    world = World([GOOD])
    deps = world.offers()
    deps.generation = None
    # Then the template's own quest is offered and the model is never asked
    offer = prepare_offer(deps, "demo", "mira", "p1", "c1")
    assert offer is not None
    assert offer.title == "Wolves on the Roads"
    assert world.router.requests == []
    assert [q.source for q in world.store.quests.values()] == [QuestSource.TEMPLATE]


def test_an_npc_without_quests_offers_none() -> None:
    world = World([])
    assert prepare_offer(world.offers(), "demo", "vex", "p1", "c1") is None


def _accepted(world: World) -> str:
    offer = prepare_offer(world.offers(), "demo", "mira", "p1", "c1")
    assert offer is not None
    accept(world.deps(), PLAYER, offer.quest_id, "c2")
    return offer.quest_id


def test_accepting_starts_the_flow_once_and_twice_is_the_same_answer() -> None:
    world = World([None])
    offer = prepare_offer(world.offers(), "demo", "mira", "p1", "c1")
    assert offer is not None
    first = accept(world.deps(), PLAYER, offer.quest_id, "c2")
    again = accept(world.deps(), PLAYER, offer.quest_id, "c2")
    assert first == again
    assert first.state is QuestState.ACCEPTED
    assert first.expires_at is not None
    assert datetime.fromisoformat(first.expires_at) == NOW + timedelta(days=28)
    assert [(m, n) for m, n, _ in world.flows.started] == [(QUEST_LIFE_FLOW, offer.quest_id)]
    assert world.flows.started[0][2]["timeout_s"] == 28 * 86400
    assert world.store.offered("demo", "mira", "p1") is None  # the offer is taken
    assert world.types().count("Quest Accepted") == 1
    # Another player cannot see or accept it
    with pytest.raises(NotFound):
        accept(world.deps(), Caller(subject="p2", world_id="demo"), offer.quest_id, "c3")


def _wait(world: World, quest_id: str, token: str) -> dict[str, object]:
    world.signals.waiting.add(token)
    return await_progress(world.deps(), StepInput(world_id="demo", player_id="p1", quest_id=quest_id), token)


def test_reports_progress_the_quest_once_each_and_wake_its_flow() -> None:
    world = World([None])
    quest_id = _accepted(world)
    assert _wait(world, quest_id, "t1") == {"waiting": True}
    report = ObjectiveReport(report_id="r1", kind="defeat", target="wolf", count=2)
    # When a game server reports two wolves, twice (a retry)
    first = report_objective(world.deps(), GAME, "demo", "p1", report, "c4")
    again = report_objective(world.deps(), GAME, "demo", "p1", report, "c4")
    # Then they count once, the answer is the same, the flow was woken once
    assert first == again
    assert [(p.objective_id, p.done, p.count) for p in first.progressed] == [("thin-the-pack", 2, 3)]
    assert [o for _, o in world.signals.sent] == [{"outcome": "progressed", "remaining_s": 28 * 86400}]
    assert world.types().count("Quest Progressed") == 1
    # When the rest is reported, the quest's objectives are met and the flow is told so
    _wait(world, quest_id, "t2")
    report_objective(
        world.deps(), GAME, "demo", "p1", ObjectiveReport(report_id="r2", kind="defeat", target="wolf"), "c"
    )
    _wait(world, quest_id, "t3")
    done = report_objective(
        world.deps(),
        GAME,
        "demo",
        "p1",
        ObjectiveReport(report_id="r3", kind="visit", target="the-roads"),
        "c",
    )
    assert done.objectives_met == [quest_id]
    assert world.signals.sent[-1][1]["outcome"] == "complete"


def _reported(
    report_id: str, kind: str = "defeat", target: str = "wolf", **more: object
) -> dict[str, object]:
    """`Quest Objective Reported` as the bus delivers it from a game server."""
    detail = {"world_id": "demo", "correlation_id": f"c-{report_id}", "player_id": "p1",
              "report_id": report_id, "kind": kind, "target": target, "count": 2, **more}  # fmt: skip
    return {"detail-type": QUEST_OBJECTIVE_REPORTED, "source": GAME_SOURCE, "detail": detail}


def test_a_report_over_the_bus_counts_once_like_one_over_http_and_one_that_cannot_apply_is_dropped() -> None:
    world = World([None])
    quest_id = _accepted(world)
    _wait(world, quest_id, "t1")
    # When a game server's report of two wolves reaches quests-api twice (EventBridge redelivers)
    first = invoke("quests-api", _reported("r1"), quests=world.deps())
    again = invoke("quests-api", _reported("r1"), quests=world.deps())
    # Then it counts once, as the HTTP route's report does, and the flow was woken once
    assert first == again
    assert first["outcome"] == "recorded"
    assert [(p["objective_id"], p["done"], p["count"]) for p in first["progressed"]] == [
        ("thin-the-pack", 2, 3)
    ]
    assert world.types().count("Quest Progressed") == 1
    assert [o["outcome"] for _, o in world.signals.sent] == ["progressed"]
    # And the same report id over HTTP afterwards counts nothing more
    http = report_objective(
        world.deps(),
        GAME,
        "demo",
        "p1",
        ObjectiveReport(report_id="r1", kind="defeat", target="wolf", count=2),
        "c",
    )
    assert [p.done for p in http.progressed] == [2]
    # When reports that can never apply arrive: an unknown kind, a field too many, no quest waiting for it
    unreadable = invoke("quests-api", _reported("r2", kind="dance"), quests=world.deps())
    extra = invoke("quests-api", _reported("r3", weapon="axe"), quests=world.deps())
    unwanted = invoke("quests-api", _reported("r4", target="dragon"), quests=world.deps())
    # Then they are answered (not raised: EventBridge would retry them for nothing) and change nothing
    assert (unreadable["outcome"], extra["outcome"]) == ("invalid", "invalid")
    assert (unwanted["outcome"], unwanted["progressed"]) == ("recorded", [])
    assert world.types().count("Quest Progressed") == 1


def test_only_game_servers_studios_and_admins_report() -> None:
    world = World([])
    with pytest.raises(Forbidden):
        report_objective(
            world.deps(), PLAYER, "demo", "p1", ObjectiveReport(report_id="r", kind="visit", target="x"), "c"
        )


def test_completing_grants_the_rewards_once_however_often_it_runs() -> None:
    world = World([None])
    quest_id = _accepted(world)
    for n, (kind, target, count) in enumerate([("defeat", "wolf", 3), ("visit", "the-roads", 1)]):
        report = ObjectiveReport(report_id=f"r{n}", kind=kind, target=target, count=count)
        report_objective(world.deps(), GAME, "demo", "p1", report, "c")
    step = StepInput(world_id="demo", player_id="p1", quest_id=quest_id, correlation_id="c5")
    # When the complete step runs twice (a redelivery)
    assert complete(world.steps(), step) == {"completed": True}
    assert complete(world.steps(), step) == {"completed": True}
    # Then the quest is completed, the giver trusts the player more once, the events name the quest
    quest = world.store.quest("demo", "p1", quest_id)
    assert quest is not None
    assert quest.state is QuestState.COMPLETED
    relationship = world.world.relationships[("demo", "mira", "p1")]
    assert (relationship.trust, relationship.affinity) == (5, 10)
    ids = {d.model_dump()["event_id"] for _, t, d in world.events.published if t.startswith("Quest")}
    assert {f"quest:{quest_id}:completed", f"quest:{quest_id}:reward"} <= ids
    # And a completed quest cannot be abandoned
    with pytest.raises(Conflict):
        abandon(world.deps(), PLAYER, quest_id, "c6")


def test_fact_rewards_change_the_world_once() -> None:
    world = World([None])
    offer = prepare_offer(world.offers(), "demo", "ysolde", "p1", "c1")
    assert offer is not None
    accept(world.deps(), PLAYER, offer.quest_id, "c2")
    for n, kind in enumerate(["collect", "deliver"]):
        report_objective(
            world.deps(),
            GAME,
            "demo",
            "p1",
            ObjectiveReport(report_id=f"r{n}", kind=kind, target="lost-page", count=3),
            "c",
        )
    step = StepInput(world_id="demo", player_id="p1", quest_id=offer.quest_id)
    complete(world.steps(), step)
    complete(world.steps(), step)
    fact = world.state.fact("demo", "tide-tables-restored")
    assert fact is not None
    assert (fact.value, fact.version) == (True, 1)


def test_abandon_tells_the_waiting_flow_and_is_idempotent() -> None:
    world = World([None])
    quest_id = _accepted(world)
    _wait(world, quest_id, "t1")
    first = abandon(world.deps(), PLAYER, quest_id, "c")
    again = abandon(world.deps(), PLAYER, quest_id, "c")
    assert first == again
    assert first.state is QuestState.ABANDONED
    assert [o["outcome"] for _, o in world.signals.sent] == ["abandoned"]
    # A flow step that stores a new token now finds the quest ended and sends the token itself
    assert _wait(world, quest_id, "t2") == {"waiting": False, "outcome": "abandoned"}


def test_a_wait_after_the_last_report_completes_at_once() -> None:
    # Given the objectives met while the flow was between waits (the report's token had moved on)
    world = World([None])
    quest_id = _accepted(world)
    for n, (kind, target, count) in enumerate([("defeat", "wolf", 3), ("visit", "the-roads", 1)]):
        report_objective(
            world.deps(),
            GAME,
            "demo",
            "p1",
            ObjectiveReport(report_id=f"r{n}", kind=kind, target=target, count=count),
            "c",
        )
    # When the flow waits again, it is told at once
    assert _wait(world, quest_id, "t9") == {"waiting": False, "outcome": "complete"}


def test_a_quest_past_its_deadline_expires() -> None:
    world = World([None])
    quest_id = _accepted(world)
    world.now = NOW + timedelta(days=29)
    assert _wait(world, quest_id, "t1")["outcome"] == "expired"
    step = StepInput(world_id="demo", player_id="p1", quest_id=quest_id)
    assert expire(world.deps(), step) == {"expired": True}
    assert expire(world.deps(), step) == {"expired": False}
    quest = world.store.quest("demo", "p1", quest_id)
    assert quest is not None
    assert (quest.state, quest.ended_reason) == (QuestState.ABANDONED, "expired")


def test_a_player_lists_their_own_quests_without_the_hook() -> None:
    world = World([None, None])
    _accepted(world)
    prepare_offer(world.offers(), "demo", "borin", "p1", "c")
    listed = list_quests(world.store, PLAYER)
    assert {q.state for q in listed.quests} == {QuestState.ACCEPTED, QuestState.OFFERED}
    assert "hook" not in listed.model_dump_json()
    assert list_quests(world.store, Caller(subject="p2", world_id="demo")).quests == []


def test_a_template_once_offered_is_not_offered_again() -> None:
    world = World([None])
    quest_id = _accepted(world)
    abandon(world.deps(), PLAYER, quest_id, "c")
    assert prepare_offer(world.offers(), "demo", "mira", "p1", "c") is None
    assert isinstance(world.state.definition("demo"), WorldDefinition)


def test_a_turn_offers_the_quest_its_npc_has_ready_without_another_model_call() -> None:
    # Given Mira has a quest ready for p1 (read with the turn's batch of world items)
    world = FakeWorld()
    offer = QuestOffer(
        quest_id="q-1",
        npc_id="mira",
        title="Wolves on the Roads",
        summary="Wolves take travellers' packs.",
        objectives=list(demo_content().quests[-1].objectives),
        hook="Wolves are scaring my guests away.",
    )
    world.quest_offers[("demo", "mira", "p1")] = offer
    endpoint = ScriptedEndpoint()
    deps = turn_deps(world, endpoint)
    # When p1 talks to Mira
    pusher = say(deps)
    # Then the prompt knows the hook, the reply frame carries the offer (never the hook), one model call
    assert "Wolves are scaring my guests away." in endpoint.last_messages[0].content
    [reply] = pusher.of_type("npc.reply")
    assert reply["data"]["quest_offer"]["quest_id"] == "q-1"
    assert set(reply["data"]["quest_offer"]) == {"quest_id", "npc_id", "title", "summary", "objectives"}
    assert len(endpoint.calls) == 1
    # And a player Mira has nothing ready for gets no offer
    other = say(turn_deps(FakeWorld()))
    assert other.of_type("npc.reply")[0]["data"]["quest_offer"] is None


def test_a_turn_delivered_twice_to_quest_offers_prepares_one_offer() -> None:
    world = World([GOOD, GOOD])
    turn = NpcTurnCompleted(
        world_id="demo", correlation_id="turn-1", session_id="ses_1", npc_id="mira", player_id="p1",
        player_line="Any work?", reply="Wolves, love.", tier="gold", fallback=False,
    )  # fmt: skip
    answers = _delivered_twice("quest-offers", NPC_SOURCE, NPC_TURN_COMPLETED, turn, deps=world.offers())
    assert answers[0] == answers[1]
    assert len(world.store.quests) == 1
    assert world.types() == ["Quest Offered"]
    assert len(world.router.requests) == 1


def test_the_flows_steps_run_twice_answer_the_same() -> None:
    world = World([None])
    quest_id = _accepted(world)
    for n, (kind, target, count) in enumerate([("defeat", "wolf", 3), ("visit", "the-roads", 1)]):
        report = ObjectiveReport(report_id=f"r{n}", kind=kind, target=target, count=count)
        report_objective(world.deps(), GAME, "demo", "p1", report, "c")
    fn = TOPOLOGY.function("quest-steps")
    handler = Lambdas().module(fn).handler
    step = {"world_id": "demo", "player_id": "p1", "quest_id": quest_id, "correlation_id": "c"}
    context = LambdaContext(fn.name, fn.memory_mb, fn.timeout_s)
    completed = [handler({**step, "step": "complete"}, context, deps=world.steps()) for _ in range(2)]
    assert completed == [{"completed": True}, {"completed": True}]
    assert [t for t in world.types() if t == "Quest Completed"] == ["Quest Completed"] * 2  # same event id
    assert (
        len({d.model_dump()["event_id"] for _, t, d in world.events.published if t == "Quest Completed"}) == 1
    )
    relationship = world.world.relationships[("demo", "mira", "p1")]
    assert relationship.trust == 5  # felt once
