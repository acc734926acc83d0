"""Quest pushes over fakes: a player's quest events reach each of their live connections once."""

from __future__ import annotations

from typing import Any

from aicore.auth import Caller
from aicore.connections import new_connection
from aicore.local.lambdas import LambdaContext, Lambdas
from aicore.quests.models import QuestAccepted, QuestProgressed
from aicore.quests.pushes import QuestPushDeps
from aicore.topology import QUEST_ACCEPTED, QUEST_PROGRESSED, QUEST_SOURCE, TOPOLOGY
from aicore.world.content import ObjectiveKind
from tests.fakes import FakeConnections, FakePusher
from tests.world_fakes import FakeSubscriptions

PLAYER = Caller(subject="p1", world_id="demo")
OTHER = Caller(subject="p2", world_id="demo")
FOREVER = 4_102_444_800


def _deps() -> tuple[QuestPushDeps, FakeConnections, FakePusher]:
    connections, pusher = FakeConnections(), FakePusher()
    connections.put(new_connection("desk", PLAYER, FOREVER))
    connections.put(new_connection("phone", PLAYER, FOREVER, encoding="protobuf"))
    connections.put(new_connection("stale", PLAYER, expires_at=1))
    connections.put(new_connection("other", OTHER, FOREVER))
    return QuestPushDeps(connections, FakeSubscriptions(), pusher), connections, pusher


def _delivered(deps: QuestPushDeps, detail_type: str, detail: Any) -> dict[str, Any]:
    event = {"detail-type": detail_type, "source": QUEST_SOURCE, "detail": detail.model_dump(mode="json")}
    handler = Lambdas().module(TOPOLOGY.function("world-push")).handler
    answer: dict[str, Any] = handler(event, LambdaContext("world-push", 512, 60), quest_deps=deps)
    return answer


def _progressed() -> QuestProgressed:
    return QuestProgressed(
        world_id="demo", correlation_id="c-1", event_id="quest:q-1:progress:r-1", quest_id="q-1",
        player_id="p1", npc_id="odo", template_id="t-1", report_id="r-1", objective_id="o-1",
        kind=ObjectiveKind.VISIT, target="harbor", done=1, count=3,
    )  # fmt: skip


def test_a_quest_event_reaches_each_live_connection_of_its_player_once() -> None:
    # Given a player on two live connections and one expired, and another player
    deps, connections, pusher = _deps()
    # When their quest progresses, and the event is delivered twice
    first = _delivered(deps, QUEST_PROGRESSED, _progressed())
    again = _delivered(deps, QUEST_PROGRESSED, _progressed())
    # Then each live connection of theirs got one quest.update, with the kind's fields
    assert sorted(c for c, f in pusher.frames if f["type"] == "quest.update") == ["desk", "phone"]
    data = pusher.frames[0][1]["data"]
    assert (data["kind"], data["quest_id"], data["objective_id"], data["done"], data["count"]) == (
        "progressed", "q-1", "o-1", 1, 3,
    )  # fmt: skip
    assert "title" not in data
    assert pusher.encodings["phone"] == "protobuf"
    # And the redelivery claimed nothing and sent nothing; the player's connections were one Query
    assert (first["claimed"], first["sent"], first["skipped"]) == (True, 2, 1)
    assert (again["claimed"], again["sent"]) == (False, 0)
    assert connections.player_queries == [("demo", "p1")]


def test_a_connection_gone_does_not_stop_the_others() -> None:
    deps, _, pusher = _deps()
    pusher.gone.add("desk")
    accepted = QuestAccepted(
        world_id="demo", correlation_id="c-1", event_id="quest:q-1:accepted", quest_id="q-1",
        player_id="p1", npc_id="odo", template_id="t-1", expires_at="2026-12-08T00:00:00Z",
    )  # fmt: skip
    answer = _delivered(deps, QUEST_ACCEPTED, accepted)
    assert (answer["sent"], answer["skipped"]) == (1, 2)
    [(connection, frame)] = pusher.frames
    assert connection == "phone"
    assert frame["data"]["kind"] == "accepted"
    assert frame["data"]["expires_at"] == "2026-12-08T00:00:00Z"
