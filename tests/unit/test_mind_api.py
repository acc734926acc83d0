"""The mind's HTTP routes through their real handler: memories ranked best first with their scores,
a player's own memories only, the right to be forgotten, relationships, and bounded input."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from aicore.auth import Caller
from aicore.mind.service import observe_turn
from tests.edge_calls import ADMIN, PLAYER, STUDIO, HttpEdge
from tests.minds import MIRA, turn

OTHER = Caller(subject="p2", world_id="demo")
ELSEWHERE = Caller(subject="p1", world_id="elsewhere")


def _edge() -> HttpEdge:
    edge = HttpEdge()
    edge.world.put_npc(MIRA.model_copy(update={"title": "Innkeeper"}))
    for n, line in enumerate(
        [
            "My horse is called Mist and she is lame.",
            "My sister Elara was taken by the Red Hand bandits.",
            "Thank you, friend.",
        ]
    ):
        observe_turn(edge.mind, turn(n, line))
    observe_turn(edge.mind, turn(9, "I am p2 and I like apples.", player_id="p2"))
    return edge


def test_memories_about_a_player_come_best_first_with_their_scores() -> None:
    reply = _edge().call(
        "GET", f"/worlds/demo/npcs/mira/memories?about=p1&q={quote('my lost sibling')}", caller=STUDIO
    )
    assert reply.status == 200
    data = reply.body["data"]
    assert data["about"] == "p1"
    memories = data["memories"]
    assert len(memories) == 6
    assert "Elara" in memories[0]["text"]
    assert set(memories[0]) >= {"memory_id", "text", "kind", "importance", "created_at", "scores"}
    assert set(memories[0]["scores"]) == {"recency", "importance", "relevance", "total"}
    totals = [m["scores"]["total"] for m in memories]
    assert totals == sorted(totals, reverse=True)
    limited = _edge().call("GET", "/worlds/demo/npcs/mira/memories?about=p1&limit=2", caller=ADMIN)
    assert len(limited.body["data"]["memories"]) == 2


def test_a_player_reads_only_the_memories_about_themself() -> None:
    edge = _edge()
    own = edge.call("GET", "/worlds/demo/npcs/mira/memories", caller=PLAYER)
    assert own.status == 200
    assert own.body["data"]["about"] == "p1"
    assert all("apples" not in m["text"] for m in own.body["data"]["memories"])
    for path in ("/worlds/demo/npcs/mira/memories?about=p2", "/worlds/demo/npcs/mira/relationships/p2"):
        refused = edge.call("GET", path, caller=PLAYER)
        assert (refused.status, refused.body["error"]["code"]) == (403, "forbidden")
    assert edge.call("GET", "/worlds/demo/npcs/mira/memories", caller=ELSEWHERE).status == 403


def test_a_player_may_forget_their_own_memory_and_only_theirs() -> None:
    edge = _edge()
    memories = edge.call("GET", "/worlds/demo/npcs/mira/memories", caller=PLAYER).body["data"]["memories"]
    theirs = edge.call("GET", "/worlds/demo/npcs/mira/memories", caller=OTHER).body["data"]["memories"]
    target = memories[0]["memory_id"]
    gone = edge.call("DELETE", f"/worlds/demo/npcs/mira/memories/{target}", caller=PLAYER)
    assert gone.status == 200
    assert gone.body["data"]["forgotten"] is True
    again = edge.call("DELETE", f"/worlds/demo/npcs/mira/memories/{target}", caller=PLAYER)
    assert (again.status, again.body["error"]["code"]) == (404, "not_found")
    # Another player's memory id is not found from p1's side: its existence does not leak
    other = edge.call("DELETE", f"/worlds/demo/npcs/mira/memories/{theirs[0]['memory_id']}", caller=PLAYER)
    assert other.status == 404
    left = edge.call("GET", "/worlds/demo/npcs/mira/memories", caller=PLAYER).body["data"]["memories"]
    assert target not in [m["memory_id"] for m in left]


def test_relationships_show_trust_affinity_and_why() -> None:
    edge = _edge()
    own = edge.call("GET", "/worlds/demo/npcs/mira/relationships/p1", caller=PLAYER)
    assert own.status == 200
    data = own.body["data"]
    assert data["affinity"] > 0
    assert data["history"][-1]["reason"] == "kind words"
    assert data["label"] in ("neutral", "friendly")
    stranger = edge.call("GET", "/worlds/demo/npcs/mira/relationships/p9", caller=STUDIO)
    assert (stranger.body["data"]["trust"], stranger.body["data"]["history"]) == (0, [])


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/worlds/demo/npcs/nobody/memories", 404, "not_found"),
        ("/worlds/demo/npcs/mira/memories?limit=0", 400, "invalid_request"),
        ("/worlds/demo/npcs/mira/memories?limit=51", 400, "invalid_request"),
        ("/worlds/demo/npcs/mira/memories?limit=ten", 400, "invalid_request"),
        (f"/worlds/demo/npcs/mira/memories?q={'x' * 501}", 400, "invalid_request"),
        (f"/worlds/demo/npcs/mira/memories?about={quote('<script>')}", 400, "invalid_request"),
        ("/worlds/demo/npcs/mira/relationships/nobody", 200, None),
    ],
)
def test_bad_input_is_refused_without_being_echoed(path: str, status: int, code: str | None) -> None:
    reply = _edge().call("GET", path, caller=STUDIO)
    assert reply.status == status
    if code:
        assert reply.body["error"]["code"] == code
        assert "<script>" not in str(reply.body)
        assert "xxxxxxxxxx" not in str(reply.body)
