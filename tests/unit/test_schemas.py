"""schemas/*.proto are the contracts: they must name exactly the fields our pydantic models use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from grpc_tools import protoc
from pydantic import BaseModel

from aicore.envelope import Envelope, ErrorBody
from aicore.frames import NpcSay, SessionHistory, SessionJoin, SessionLeave
from aicore.knowledge.models import ChunkHit, ChunkScores
from aicore.mind.events import ReflectionDue
from aicore.mind.models import Scores
from aicore.mind.turn import ContextMemory, DebugContext, EmotionView, RelationshipView
from aicore.npc.turn import NpcTurnCompleted, TurnReply, TurnTimings
from aicore.sessions.events import SessionCompactionNeeded, SessionRehydrationRequested

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
    ],
)
def test_proto_fields_match_the_models(
    proto: str, message: str, model: type[BaseModel], not_on_wire: set[str], tmp_path: Path
) -> None:
    assert _messages(proto, tmp_path)[message] == set(model.model_fields) - not_on_wire
