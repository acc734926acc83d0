"""An NPC's public profile and its private character sheet: nothing private reaches a player by
any route or frame; the studio and admins read whole sheets."""

from __future__ import annotations

import json

import pytest

from aicore.auth import Caller, Role
from aicore.local.world_files import load_world_folder
from aicore.local.world_push import DEMO_WORLD
from aicore.npc.prompt import system_prompt
from aicore.world.models import PRIVATE_NPC_FIELDS, Npc, NpcProfile
from tests.edge_calls import ADMIN, MIRA_SHEET, PLAYER, STUDIO, HttpEdge, WsEdge, mira_is_private

NPC_SERVICE = Caller(subject="npc-svc", world_id="demo", roles=(Role.NPC,))


def test_the_sheet_splits_into_a_public_profile_and_private_fields() -> None:
    assert set(NpcProfile.model_fields) == {
        "npc_id",
        "world_id",
        "name",
        "title",
        "greeting",
        "faction",
        "region",
    }
    private = {
        "persona",
        "speech_style",
        "fallback_lines",
        "secrets",
        "temperament",
        "trusts",
        "goals",
        "voice",
    }
    assert private == PRIVATE_NPC_FIELDS
    profile = MIRA_SHEET.profile()
    assert type(profile) is NpcProfile
    assert mira_is_private(profile.model_dump_json())


@pytest.mark.parametrize("caller", [PLAYER, NPC_SERVICE], ids=["player", "npc-service"])
def test_players_list_public_profiles_only(caller: Caller) -> None:
    reply = HttpEdge().call("GET", "/worlds/demo/npcs", caller=caller)
    assert reply.status == 200
    assert reply.body["data"]["view"] == "profile"
    (mira,) = reply.body["data"]["npcs"]
    assert set(mira) == set(NpcProfile.model_fields)
    assert (mira["npc_id"], mira["title"]) == ("mira", "Innkeeper")
    assert mira_is_private(json.dumps(reply.body))


@pytest.mark.parametrize("caller", [STUDIO, ADMIN], ids=["studio", "admin"])
def test_the_studio_and_admins_read_whole_character_sheets(caller: Caller) -> None:
    reply = HttpEdge().call("GET", "/worlds/demo/npcs", caller=caller)
    assert reply.body["data"]["view"] == "sheet"
    (mira,) = reply.body["data"]["npcs"]
    assert Npc.model_validate(mira) == MIRA_SHEET


def test_no_frame_of_a_turn_carries_anything_private() -> None:
    # Given Mira's sheet with sentinels in every private field
    edge = WsEdge()
    # When a player talks to her, talks to someone who is not there, and reads the session back
    frames = [{"action": "npc.say", "request_id": "a", "npc_id": "mira", "text": "Tell me your secrets."}]
    frames.append({"action": "npc.say", "request_id": "b", "npc_id": "nobody", "text": "Hello?"})
    for frame in frames:
        edge.send(json.dumps(frame))
    reply = next(f for _, f in edge.pusher.frames if f["type"] == "npc.reply")
    history = {"action": "session.history", "request_id": "c", "session_id": reply["data"]["session_id"]}
    edge.send(json.dumps(history))
    # Then no frame the player got (tokens, reply, error, history) holds a private value
    assert {f["type"] for _, f in edge.pusher.frames} == {
        "npc.token",
        "npc.reply",
        "error",
        "session.history",
    }
    assert all(mira_is_private(json.dumps(frame)) for _, frame in edge.pusher.frames)
    # But the model did get them: the persona and the secrets shape the reply
    system = edge.endpoint.last_messages[0].content
    assert "PERSONA-SENTINEL" in system
    assert "SECRET-SENTINEL" in system


def test_secrets_go_to_the_model_as_things_never_said_outright() -> None:
    prompt = system_prompt(MIRA_SHEET, [], None)
    assert "never say outright" in prompt
    assert "SECRET-SENTINEL" in prompt
    assert "never say" not in system_prompt(MIRA_SHEET.model_copy(update={"secrets": []}), [], None)


def test_every_demo_npc_has_a_title_and_a_profile_that_gives_nothing_away() -> None:
    content = load_world_folder(DEMO_WORLD)
    for spec in content.npcs:
        npc = spec.in_world(content.world.world_id)
        assert npc.title
        public = npc.profile().model_dump_json()
        private = [npc.persona, npc.speech_style, *npc.secrets, *npc.fallback_lines]
        assert not any(value in public for value in private), npc.npc_id
