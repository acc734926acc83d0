"""schemas/*.proto are the contracts: they must name exactly the fields our pydantic models use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from grpc_tools import protoc
from pydantic import BaseModel

from aicore.commerce.models import EntitlementChanged
from aicore.envelope import Envelope, ErrorBody
from aicore.frames import (
    ConnectionHello,
    ConnectionResume,
    NpcInterrupt,
    NpcSay,
    Ping,
    SessionHistory,
    SessionJoin,
    SessionLeave,
    SessionScene,
    WorldSubscribe,
    WorldUnsubscribe,
)
from aicore.knowledge.models import ChunkHit, ChunkScores
from aicore.language.speech import PhraseView
from aicore.mind.events import ReflectionDue
from aicore.mind.models import Scores
from aicore.mind.turn import ContextMemory, DebugContext, EmotionView, RelationshipView
from aicore.npc.events import NpcTurnCompleted
from aicore.npc.interrupts import Interrupted
from aicore.npc.scenes import SceneLine, SceneResult
from aicore.npc.turn import TurnReply, TurnTimings
from aicore.platform.clients import ConnectionWarning
from aicore.protocol import MissedMessage, Pong, Resumed, ResumedSession, Welcome
from aicore.quests.models import (
    QuestAbandoned,
    QuestAccepted,
    QuestCompleted,
    QuestOffer,
    QuestOffered,
    QuestProgressed,
    QuestRewardGranted,
)
from aicore.quests.pushes import QuestUpdate
from aicore.quests.service import ObjectiveReported
from aicore.sessions.events import SessionCompactionNeeded, SessionRehydrationRequested
from aicore.voice.speech import AudioData
from aicore.world.content import ObjectiveSpec, WeatherCondition
from aicore.world.events import RegionNarrated, StoryBeat, WeatherChanged, WorldFactChanged
from aicore.world.facts import FactChangeRejected, FactChangeRequested
from aicore.world.now import WorldContext
from aicore.world.pushes import update_frame

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
INCLUDE = Path(protoc.__file__).parent / "_proto"


def _messages(proto: str, tmp_path: Path) -> dict[str, set[str]]:
    out = tmp_path / f"{proto}.pb"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{SCHEMAS}",
            f"-I{INCLUDE}",
            f"--descriptor_set_out={out}",
            proto,
        ],
        check=True,
    )
    files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return {m.name: {f.name for f in m.field} for f in files.file for m in f.message_type}


@pytest.mark.parametrize(
    ("proto", "message", "model", "not_on_wire"),
    [
        ("frames.proto", "NpcSay", NpcSay, {"action"}),  # action is the oneof's case, not a field
        ("frames.proto", "Envelope", Envelope, set()),
        ("frames.proto", "ErrorBody", ErrorBody, set()),
        ("frames.proto", "NpcReply", TurnReply, set()),
        ("frames.proto", "TurnTimings", TurnTimings, set()),
        ("frames.proto", "Emotion", EmotionView, set()),
        ("frames.proto", "Relationship", RelationshipView, set()),
        ("frames.proto", "TurnContext", DebugContext, set()),
        ("frames.proto", "WorldContext", WorldContext, set()),
        ("frames.proto", "Phrase", PhraseView, set()),
        ("frames.proto", "ContextMemory", ContextMemory, set()),
        ("frames.proto", "MemoryScores", Scores, set()),
        ("frames.proto", "LoreChunk", ChunkHit, set()),
        ("frames.proto", "ChunkScores", ChunkScores, set()),
        ("events.proto", "NpcTurnCompleted", NpcTurnCompleted, set()),
        ("frames.proto", "SessionHistory", SessionHistory, {"action"}),
        ("frames.proto", "SessionJoin", SessionJoin, {"action"}),
        ("frames.proto", "SessionLeave", SessionLeave, {"action"}),
        ("events.proto", "SessionCompactionNeeded", SessionCompactionNeeded, set()),
        ("events.proto", "SessionRehydrationRequested", SessionRehydrationRequested, set()),
        ("events.proto", "ReflectionDue", ReflectionDue, set()),
        ("frames.proto", "WorldSubscribe", WorldSubscribe, {"action"}),
        ("frames.proto", "WorldUnsubscribe", WorldUnsubscribe, {"action"}),
        ("events.proto", "WeatherChanged", WeatherChanged, set()),
        ("events.proto", "WorldFactChanged", WorldFactChanged, set()),
        ("events.proto", "WorldFactChangeRequested", FactChangeRequested, set()),
        ("events.proto", "WorldFactChangeRejected", FactChangeRejected, set()),
        ("events.proto", "StoryBeat", StoryBeat, set()),
        ("events.proto", "RegionNarrated", RegionNarrated, set()),
        ("events.proto", "QuestObjectiveReported", ObjectiveReported, set()),
        ("frames.proto", "ConnectionWarning", ConnectionWarning, set()),
        ("events.proto", "EntitlementChanged", EntitlementChanged, set()),
        ("frames.proto", "QuestOffer", QuestOffer, {"hook"}),  # for the prompt only, never sent
        ("frames.proto", "QuestObjective", ObjectiveSpec, set()),
        ("events.proto", "QuestOffered", QuestOffered, set()),
        ("events.proto", "QuestAccepted", QuestAccepted, set()),
        ("events.proto", "QuestProgressed", QuestProgressed, set()),
        ("events.proto", "QuestCompleted", QuestCompleted, set()),
        ("events.proto", "QuestAbandoned", QuestAbandoned, set()),
        ("events.proto", "QuestRewardGranted", QuestRewardGranted, set()),
        ("frames.proto", "Ping", Ping, {"action"}),
        ("frames.proto", "ConnectionHello", ConnectionHello, {"action"}),
        ("frames.proto", "Pong", Pong, set()),
        ("frames.proto", "ConnectionWelcome", Welcome, set()),
        ("frames.proto", "ConnectionResume", ConnectionResume, {"action"}),
        ("frames.proto", "SessionMessage", MissedMessage, set()),
        ("frames.proto", "ResumedSession", ResumedSession, set()),
        ("frames.proto", "ConnectionResumed", Resumed, set()),
        ("frames.proto", "NpcInterrupt", NpcInterrupt, {"action"}),
        ("frames.proto", "NpcInterrupted", Interrupted, set()),
        ("frames.proto", "SessionScene", SessionScene, {"action"}),
        ("frames.proto", "QuestUpdate", QuestUpdate, set()),
        ("frames.proto", "SceneLine", SceneLine, set()),
        ("frames.proto", "SessionSceneResult", SceneResult, set()),
        ("frames.proto", "NpcAudio", AudioData, set()),
    ],
)
def test_proto_fields_match_the_models(
    proto: str, message: str, model: type[BaseModel], not_on_wire: set[str], tmp_path: Path
) -> None:
    assert _messages(proto, tmp_path)[message] == set(model.model_fields) - not_on_wire


def test_the_world_update_frame_names_what_a_push_carries(tmp_path: Path) -> None:
    # Every field of a weather and a fact push is in the WorldUpdate message (the kind's own ones optional)
    fields = _messages("frames.proto", tmp_path)["WorldUpdate"]
    weather = update_frame(_weather_event())["data"]
    fact = update_frame(_fact_event())["data"]
    story = update_frame(_story_event())["data"]
    narration = update_frame(_narration_event())["data"]
    assert set(weather) | set(fact) | set(story) | set(narration) == fields


def _weather_event() -> WeatherChanged:
    return WeatherChanged(
        world_id="w", correlation_id="c", event_id="weather:r:1", region="r", hour=1,
        condition=WeatherCondition.RAIN, previous_condition=WeatherCondition.CLEAR,
        temperature_c=1.0, wind_kph=2.0, season="spring", part_of_day="dawn",
    )  # fmt: skip


def _fact_event() -> WorldFactChanged:
    return WorldFactChanged(
        world_id="w", correlation_id="c", event_id="fact:k:1", key="k", value=1, region="r",
        version=1, previous_version=0, changed_by="s", via="http",
    )  # fmt: skip


def _narration_event() -> RegionNarrated:
    return RegionNarrated(
        world_id="w", correlation_id="c", event_id="narration:r:fact:k:1", region="r", narration="n",
        narration_source="model", tier="silver", cached=False, digest="d", version=3, trigger_id="fact:k:1",
    )  # fmt: skip


def _story_event() -> StoryBeat:
    return StoryBeat(
        world_id="w", correlation_id="c", event_id="story:a:b", arc_id="a", arc_title="A", beat_id="b",
        beat_title="B", beat=1, beats=2, region="r", narration="n", narration_source="model", tier="silver",
        game_time=1, day=1, part_of_day="dawn", season="spring", trigger_id="fact:k:1", version=1,
    )  # fmt: skip
