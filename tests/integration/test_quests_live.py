"""Quests end to end on the local runtime (moto server, the CPU model, the gateway, event delivery,
Step Functions running our ASL): Mira offers a quest in conversation, the player accepts it, a game
server reports the objectives (one report twice), the real flow completes it with its rewards; a
generation that fails validation never reaches a player."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pytest

from aicore import wiring
from aicore.auth import Caller, Role
from aicore.aws.quest_store import DynamoQuestStore
from aicore.flows import execution_arn
from aicore.local.embedded_aws import aws_client
from aicore.local.runtime import LocalRuntime, local_token
from aicore.quests.generation import GenerationDeps, Known, parse
from aicore.quests.models import Quest, QuestOffer, QuestSource, QuestState
from aicore.quests.service import accept, prepare_offer
from aicore.settings import get_settings
from aicore.topology import GAME_SOURCE, QUEST_LIFE_FLOW, QUEST_OBJECTIVE_REPORTED, TOPOLOGY
from tests.clients import final_answers, http_json
from tests.fakes import FakeFlows
from tests.quest_fakes import ScriptedRouter
from tests.waiting import eventually
from tests.world_fakes import demo_content

pytestmark = [pytest.mark.model, pytest.mark.timeout(1800)]
TURN_S = 600  # a turn (and an offer: two answers of the CPU model) on a machine other work keeps busy
FLOW_S = 120


def _ws(runtime: LocalRuntime, token: str) -> str:
    return f"ws://127.0.0.1:{runtime.options.port}/ws?token={token}"


def _say(request_id: str, text: str) -> dict[str, Any]:
    return {"action": "npc.say", "request_id": request_id, "npc_id": "mira", "text": text}


def _execution(quest_id: str) -> str:
    """The quest's execution: named by the quest (`aicore.flows.execution_arn`)."""
    return execution_arn(os.environ[TOPOLOGY.state_machine(QUEST_LIFE_FLOW).env_var], quest_id)


def _store() -> DynamoQuestStore:
    return DynamoQuestStore(get_settings().world_table)


def _valid_or_template(quest: Quest) -> None:
    """What a player may be offered: the template's own words, or a generation that passes validation."""
    content = demo_content()
    template = next(t for t in content.quests if t.template_id == quest.template_id)
    if quest.source is QuestSource.TEMPLATE:
        assert (quest.title, quest.hook) == (template.title, template.hook)
        return
    known = Known.of([r.region_id for r in content.regions], [n.npc_id for n in content.npcs], content.quests)
    answer = json.dumps(
        {
            "title": quest.title,
            "summary": quest.summary,
            "hook": quest.hook,
            "objectives": [o.model_dump(mode="json", exclude={"done"}) for o in quest.objectives],
        }
    )
    parse(answer, known, [])  # raises Rejected: it would never have been stored


def test_a_quest_is_offered_accepted_progressed_and_completed_through_the_real_flow(
    runtime: LocalRuntime,
) -> None:
    base = runtime.gateway.gateway.url
    player = f"p-{uuid.uuid4().hex[:8]}"
    token = local_token(player, "demo")
    game = local_token("game-server-1", "demo", (Role.GAME_SERVER,))
    # Given the player talks to Mira; after the turn her quest is made ready (the CPU model writes
    # it, or, when what it writes fails validation, the template's own words)
    (first,) = final_answers(_ws(runtime, token), [_say("t1", "Hello! Any work for me?")], timeout_s=TURN_S)
    assert first["type"] == "npc.reply", first

    def offered() -> dict[str, Any] | None:
        status, body = http_json(f"{base}/players/me/quests", token)
        assert status == 200, body
        return next(iter(body["data"]["quests"]), None)

    quest = eventually(offered, timeout_s=TURN_S, what="Mira's quest made ready")
    assert quest["state"] == "offered"
    assert quest["npc_id"] == "mira"
    stored = _store().quest("demo", player, quest["quest_id"])
    assert stored is not None
    _valid_or_template(stored)
    # When the player talks to her again, the reply offers it
    (second,) = final_answers(_ws(runtime, token), [_say("t2", "Tell me more.")], timeout_s=TURN_S)
    assert second["data"]["quest_offer"]["quest_id"] == quest["quest_id"]
    assert "hook" not in second["data"]["quest_offer"]
    # And the player accepts it, twice (a retry): the same answer, one flow
    accept_url = f"{base}/players/me/quests/{quest['quest_id']}/accept"
    accepted = [http_json(accept_url, token, "POST", {}) for _ in range(2)]
    assert [status for status, _ in accepted] == [200, 200], accepted
    # the same quest, accepted once (its version may move between the two: the flow stores its task token)
    first_answer, second_answer = (
        {k: v for k, v in a[1]["data"].items() if k != "version"} for a in accepted
    )
    assert first_answer == second_answer
    assert accepted[0][1]["data"]["state"] == "accepted"
    sfn = aws_client("stepfunctions", runtime.aws.url)
    execution = _execution(quest["quest_id"])

    def waiting() -> bool:
        found = _store().quest("demo", player, quest["quest_id"])
        return found is not None and found.task_token is not None

    eventually(waiting, timeout_s=FLOW_S, what="the quest's flow waiting on its task token")
    # When a game server reports the objectives, one report twice
    url = f"{base}/worlds/demo/players/{player}/objectives"
    answers = []
    for objective in stored.objectives:
        body = {
            "report_id": f"r-{objective.objective_id}",
            "kind": objective.kind.value,
            "target": objective.target,
            "count": objective.count,
        }
        answers.append(http_json(url, game, "POST", body))
        if len(answers) == 1:
            status, again = http_json(url, game, "POST", body)  # told twice: the same answer
            assert (status, again["data"]) == (answers[0][0], answers[0][1]["data"])
    assert all(status == 200 for status, _ in answers), answers
    assert answers[-1][1]["data"]["objectives_met"] == [quest["quest_id"]]
    # Then the flow completes the quest: its state, the giver's feelings, the flow's end

    def completed() -> dict[str, Any] | None:
        _status, body = http_json(f"{base}/players/me/quests", token)
        found = next(q for q in body["data"]["quests"] if q["quest_id"] == quest["quest_id"])
        return found if found["state"] == "completed" else None

    done = eventually(completed, timeout_s=FLOW_S, what="the quest completed by its flow")
    assert all(o["done"] == o["count"] for o in done["objectives"])
    assert eventually(
        lambda: sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED",
        timeout_s=FLOW_S,
        what="the quest's execution succeeded",
    )
    studio = local_token("studio-1", "demo", (Role.STUDIO,))
    status, relationship = http_json(f"{base}/worlds/demo/npcs/mira/relationships/{player}", studio)
    assert status == 200, relationship
    reasons = [h["reason"] for h in relationship["data"]["history"]]
    assert any(r.startswith("completed the quest") for r in reasons), reasons
    # And a game server's report for a finished quest counts nothing; abandoning it is refused
    status, late = http_json(url, game, "POST", {"report_id": "late", "kind": "defeat", "target": "wolf"})
    assert (status, late["data"]["progressed"]) == (200, [])
    status, refused = http_json(f"{base}/players/me/quests/{quest['quest_id']}/abandon", token, "POST", {})
    assert (status, refused["error"]["code"]) == (409, "conflict")
    final = _store().quest("demo", player, quest["quest_id"])
    assert final is not None
    assert final.state is QuestState.COMPLETED


def _accepted_and_waiting(base: str, player: str, token: str) -> QuestOffer:
    """Odo's quest from its template (no tier: quickly), accepted over HTTP, its flow waiting on its token."""
    deps = wiring.quest_offer_deps()
    deps.generation = GenerationDeps(ScriptedRouter([None]))
    offer = prepare_offer(deps, "demo", "odo", player, "c-1")
    assert offer is not None
    status, accepted = http_json(f"{base}/players/me/quests/{offer.quest_id}/accept", token, "POST", {})
    assert status == 200, accepted
    eventually(
        lambda: (
            (q := _store().quest("demo", player, offer.quest_id)) is not None and q.task_token is not None
        ),
        timeout_s=FLOW_S,
        what="the flow waiting",
    )
    return offer


def test_an_abandoned_quest_ends_its_flow(runtime: LocalRuntime) -> None:
    base = runtime.gateway.gateway.url
    player = f"p-{uuid.uuid4().hex[:8]}"
    token = local_token(player, "demo")
    offer = _accepted_and_waiting(base, player, token)
    status, ended = http_json(f"{base}/players/me/quests/{offer.quest_id}/abandon", token, "POST", {})
    assert (status, ended["data"]["state"]) == (200, "abandoned"), ended
    sfn = aws_client("stepfunctions", runtime.aws.url)
    execution = _execution(offer.quest_id)
    assert eventually(
        lambda: sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED",
        timeout_s=FLOW_S,
        what="the abandoned quest's flow ended",
    )


def test_objectives_reported_on_the_bus_progress_and_complete_a_quest_through_its_flow(
    runtime: LocalRuntime,
) -> None:
    # Given Odo's quest accepted by a player, its flow waiting on its task token
    base = runtime.gateway.gateway.url
    player = f"p-{uuid.uuid4().hex[:8]}"
    token = local_token(player, "demo")
    offer = _accepted_and_waiting(base, player, token)
    # When a game server puts its objective reports on the bus (source aicore.game), the first twice,
    # and one that can never apply (a kind the game has not)
    bus = aws_client("events", runtime.aws.url)
    reports: list[dict[str, object]] = [
        {"report_id": f"r-{o.objective_id}", "kind": o.kind.value, "target": o.target, "count": o.count}
        for o in offer.objectives
    ]
    unreadable: dict[str, object] = {"report_id": "r-bad", "kind": "dance", "target": "lake-shore"}
    for report in [reports[0], reports[0], unreadable, *reports[1:]]:
        detail: dict[str, object] = {
            "world_id": "demo",
            "correlation_id": f"c-{uuid.uuid4().hex[:8]}",
            "player_id": player,
            **report,
        }
        entry = {"Source": GAME_SOURCE, "DetailType": QUEST_OBJECTIVE_REPORTED, "Detail": json.dumps(detail),
                 "EventBusName": get_settings().event_bus_name}  # fmt: skip
        assert bus.put_events(Entries=[entry])["FailedEntryCount"] == 0
    # Then quests-api records them through EventBridge delivery, once each, and the flow completes the quest
    sfn = aws_client("stepfunctions", runtime.aws.url)
    assert eventually(
        lambda: sfn.describe_execution(executionArn=_execution(offer.quest_id))["status"] == "SUCCEEDED",
        timeout_s=FLOW_S,
        what="the quest's flow completed",
    )
    done = _store().quest("demo", player, offer.quest_id)
    assert done is not None
    assert done.state is QuestState.COMPLETED
    assert all(o.done == o.count for o in done.objectives)
    assert sorted(done.report_ids) == sorted(str(r["report_id"]) for r in reports)


def test_a_generation_that_fails_validation_is_never_stored(runtime: LocalRuntime) -> None:
    # Given a silver tier that answers with a quest the game cannot report, twice
    player = f"p-{uuid.uuid4().hex[:8]}"
    bad = json.dumps(
        {
            "title": "The Moon Heist",
            "summary": "Steal the moon from the sky for Borin's forge, tonight.",
            "hook": "Bring me the moon, and I will forge you a crown.",
            "objectives": [
                {
                    "objective_id": "moon",
                    "kind": "collect",
                    "target": "the-moon",
                    "count": 1,
                    "description": "Take the moon.",
                }
            ],
        }
    )
    deps = wiring.quest_offer_deps()
    deps.generation = GenerationDeps(ScriptedRouter([bad, bad]))
    # When Borin's offer is made ready, through the real stores
    offer = prepare_offer(deps, "demo", "borin", player, "c-1")
    # Then the player is offered the template; nothing of the rejected answers is stored anywhere
    assert offer is not None
    assert offer.title == "Ore from the North Pass"
    quests = _store().player_quests("demo", player)
    assert [q.source for q in quests] == [QuestSource.TEMPLATE]
    assert all("moon" not in q.model_dump_json().lower() for q in quests)


def test_a_quest_past_its_deadline_is_expired_by_its_flow(runtime: LocalRuntime) -> None:
    # Given an accepted quest (accepted without its weeks-long flow: this test runs one with a short wait)
    base = runtime.gateway.gateway.url
    player = f"p-{uuid.uuid4().hex[:8]}"
    token = local_token(player, "demo")
    deps = wiring.quest_offer_deps()
    deps.generation = GenerationDeps(ScriptedRouter([None]))
    offer = prepare_offer(deps, "demo", "ysolde", player, "c-1")
    assert offer is not None
    quests = wiring.quest_deps()
    quests.flows = FakeFlows()
    accept(quests, Caller(subject=player, world_id="demo"), offer.quest_id, "c-1")
    # When a run of the flow whose wait times out in a second reaches the deadline
    sfn = aws_client("stepfunctions", runtime.aws.url)
    payload = {"world_id": "demo", "player_id": player, "quest_id": offer.quest_id, "correlation_id": "c-2",
               "timeout_s": 1}  # fmt: skip
    machine = os.environ[TOPOLOGY.state_machine(QUEST_LIFE_FLOW).env_var]
    started = sfn.start_execution(stateMachineArn=machine, name=f"deadline-{offer.quest_id}",
                                  input=json.dumps(payload))  # fmt: skip
    # Then the wait times out, the expire step ends the quest, and the player sees it expired
    eventually(
        lambda: sfn.describe_execution(executionArn=started["executionArn"])["status"] == "SUCCEEDED",
        timeout_s=FLOW_S,
        what="the deadline run ended",
    )
    status, listed = http_json(f"{base}/players/me/quests", token)
    assert status == 200, listed
    (quest,) = listed["data"]["quests"]
    assert (quest["state"], quest["ended_reason"]) == ("abandoned", "expired")
