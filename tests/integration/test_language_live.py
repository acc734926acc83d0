"""The language system on the local runtime (real WebSocket client, gateway, moto, the model, the
bus): Vex of the Ashen Hand greets and takes leave in Ashtongue, the player's proficiency grows by
what the NPC Turn Completed consumer counts, until a translation is revealed in `data.phrases`."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from aicore import wiring
from aicore.language.lexicon import lexicon_of
from aicore.language.proficiency import proficiency
from aicore.local.runtime import LocalRuntime, local_token
from aicore.world.content import Language
from tests.clients import exchange, http_json
from tests.waiting import eventually

pytestmark = [pytest.mark.model, pytest.mark.timeout(1800)]  # a shared 2-core CPU runs the model
TURN_S = 600
MOST_TURNS = 3  # greeting and farewell (difficulty 4 to 15) are known after 4 phrases heard: 16
ASHTONGUE = lexicon_of(Language(name="Ashtongue", seed="ashtongue-1"))
LINE = "Hello there. Goodbye for now!"  # a first line of a session that takes leave: two phrases


def _heard(player: str) -> int:
    found = wiring.world().turn_context("demo", "vex", player).proficiency
    return found.heard.get("ashtongue", 0) if found else 0


def _turn(runtime: LocalRuntime, token: str, player: str, n: int) -> dict[str, Any]:
    """One turn in a new session with Vex: its reply frame, checked against its tokens and the session."""
    base = f"http://127.0.0.1:{runtime.options.port}"
    participants = [{"id": player, "kind": "player"}, {"id": "vex", "kind": "npc"}]
    status, created = http_json(f"{base}/sessions", token, "POST", {"participants": participants})
    assert status == 201, created
    session_id = created["data"]["session_id"]
    say = {
        "action": "npc.say",
        "request_id": f"t{n}",
        "npc_id": "vex",
        "text": LINE,
        "session_id": session_id,
    }
    *tokens, reply = exchange(f"ws://127.0.0.1:{runtime.options.port}/ws?token={token}", [say], TURN_S)
    assert reply["type"] == "npc.reply", reply
    text = reply["data"]["text"]
    # What the player heard streamed is what the session keeps, Ashtongue included
    assert "".join(t["data"]["text"] for t in tokens) == text
    status, session = http_json(f"{base}/sessions/{session_id}", token)
    assert status == 200, session
    assert [m["text"] for m in session["data"]["messages"] if m["speaker"]["id"] == "vex"] == [text]
    return dict(reply["data"])


def test_a_player_learns_ashtongue_from_vex_until_a_translation_is_revealed(runtime: LocalRuntime) -> None:
    player = f"player-{uuid.uuid4().hex[:8]}"
    token = local_token(player, "demo")
    revealed: list[dict[str, Any]] = []
    levels: list[int] = []
    for n in range(1, MOST_TURNS + 1):
        # When the player greets Vex and takes leave, in a new session each time
        data = _turn(runtime, token, player, n)
        # Then Vex opened with an Ashtongue greeting and closed with a farewell, both in data.phrases
        phrases = data["phrases"]
        kinds = [
            next(p.kind.value for p in ASHTONGUE.phrases if p.text == phrase["text"]) for phrase in phrases
        ]
        assert kinds == ["greeting", "farewell"], (data["text"], phrases)
        assert data["text"].startswith(f"{phrases[0]['text']}! ")
        assert data["text"].endswith(f" {phrases[1]['text']}.")
        assert {p["language"] for p in phrases} == {"ashtongue"}
        levels.append(phrases[0]["proficiency"])
        # And the consumer counts the two phrases heard towards the player's proficiency
        eventually(lambda: _heard(player) == 2 * len(levels), timeout_s=TURN_S, what="the phrases counted")
        revealed = [p for p in phrases if p["translation"] is not None]
        if revealed:
            break
    # Proficiency grew turn by turn, by two phrases each, until a translation was revealed
    assert levels == [proficiency(2 * k) for k in range(len(levels))]
    assert revealed, levels
    for phrase in revealed:
        [spec] = [p for p in ASHTONGUE.phrases if p.text == phrase["text"]]
        assert phrase["translation"] == spec.translation
        assert phrase["proficiency"] >= spec.difficulty
