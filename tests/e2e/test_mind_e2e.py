"""Issue 10 end to end, on `aicore local` as `make run` starts it (a subprocess; real WebSocket and
HTTP clients): a tester tells Mira their name and a fact in one session; three days of game time
later (the runtime's clock moved, nobody sleeps), in a new session, the debug context of a related
question ranks that memory first."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from aicore.auth import Role
from aicore.local.runtime import local_token
from tests.clients import final_answers, http_json
from tests.e2e.local_process import LocalProcess
from tests.minds import FACT
from tests.waiting import eventually

pytestmark = [pytest.mark.model, pytest.mark.timeout(1800)]  # a shared 2-core CPU runs the model
TURN_S = 600  # one turn of the CPU model, on a machine other work keeps busy
THREE_DAYS_H = 72
QUESTION = "Do you remember who took my sister?"


@pytest.fixture(scope="module")
def local() -> Iterator[LocalProcess]:
    with LocalProcess() as running:
        yield running
        running.stop()
        assert running.process is not None
        assert running.process.returncode == 0, running.output


def _say(text: str, request_id: str, **fields: Any) -> dict[str, Any]:
    return {"action": "npc.say", "request_id": request_id, "npc_id": "mira", "text": text, **fields}


def test_a_player_may_not_ask_for_a_turns_context(local: LocalProcess) -> None:
    player = local_token(f"player-{uuid.uuid4().hex[:8]}", "demo")
    (refused,) = final_answers(local.ws(player), [_say("Hello!", "p1", debug=True)])
    assert refused["type"] == "error"
    assert refused["error"]["code"] == "forbidden"
    assert "studio or admin" in refused["error"]["message"]


def test_mira_recalls_a_name_and_a_fact_first_days_of_game_time_later_in_a_new_session(
    local: LocalProcess,
) -> None:
    tester = f"tester-{uuid.uuid4().hex[:8]}"
    token = local_token(tester, "demo", (Role.STUDIO,))
    # Given the tester tells Mira their name and a fact, and chats a little, in one session
    first = final_answers(
        local.ws(token), [_say(FACT, "s1-1"), _say("Is the stew good tonight?", "s1-2")], timeout_s=TURN_S
    )
    assert [answer["type"] for answer in first] == ["npc.reply", "npc.reply"], first
    first_session = first[0]["data"]["session_id"]
    # And Mira's mind has taken it in (the NPC Turn Completed consumer, over the bus)
    memories = f"{local.base}/worlds/demo/npcs/mira/memories?about={tester}&limit=50"

    def remembered() -> bool:
        status, body = http_json(memories, token)
        assert status == 200, body
        return FACT in [m["text"] for m in body["data"]["memories"]]

    eventually(remembered, timeout_s=TURN_S, what="Mira remembering the fact")
    # When three days of game time pass
    status, clock = http_json(
        f"{local.base}/_local/clock", method="POST", body={"advance_hours": THREE_DAYS_H}
    )
    assert status == 200, clock
    assert clock["ahead_hours"] == THREE_DAYS_H
    # And the tester opens a new session with Mira and asks a related question, with debug
    participants = [{"id": tester, "kind": "player"}, {"id": "mira", "kind": "npc"}]
    status, created = http_json(
        f"{local.base}/sessions", token, "POST", {"participants": participants, "metadata": {"kind": "e2e"}}
    )
    assert status == 201, created
    second_session = created["data"]["session_id"]
    assert second_session != first_session
    (asked,) = final_answers(
        local.ws(token), [_say(QUESTION, "s2-1", session_id=second_session, debug=True)], timeout_s=TURN_S
    )
    # Then the reply is in the new session, and its context ranks the fact first, three days old
    assert asked["type"] == "npc.reply", asked
    assert asked["data"]["session_id"] == second_session
    ranked = asked["data"]["context"]["memories"]
    assert ranked[0]["text"] == FACT, [(m["text"], m["scores"]) for m in ranked]
    assert 0.6 < ranked[0]["scores"]["recency"] < 0.8  # 0.995 ** 72 = 0.70
    assert set(ranked[0]["scores"]) == {"recency", "importance", "relevance", "total"}
    assert {"emotion", "relationship"} <= set(asked["data"])
