from aicore.knowledge.models import ChunkHit, ChunkScores
from aicore.npc.prompt import HISTORY_TOKEN_BUDGET, build_prompt, history_within_budget
from aicore.sessions.models import Message, Participant, ParticipantKind
from aicore.world.models import Npc, NpcMemory

NPC = Npc(
    npc_id="mira", world_id="demo", name="Mira", persona="An innkeeper.", speech_style="Warm.", greeting="Hi"
)
PLAYER = Participant(id="p1", kind=ParticipantKind.PLAYER)
MIRA = Participant(id="mira", kind=ParticipantKind.NPC)


def _history(n: int, size: int = 40) -> list[Message]:
    return [
        Message(seq=i + 1, speaker=PLAYER if i % 2 == 0 else MIRA, text=f"{i}:" + "x" * size)
        for i in range(n)
    ]


def test_prompt_has_persona_lore_memory_history_and_line() -> None:
    scores = ChunkScores(keyword=1.0, vector=0.5, total=0.8)
    lore = [
        ChunkHit(
            chunk_id="c1",
            document_id="d1",
            world_id="demo",
            title="Emberfall",
            heading="Emberfall > The Gilded Goose",
            text="The inn\n  is old.",
            scores=scores,
        )
    ]
    memory = NpcMemory(world_id="demo", npc_id="mira", player_id="p1", turns=2, last_player_line="ale please")
    mind = "What you remember of this traveller (most relevant first):\n- They told you: ale please"
    messages = build_prompt(NPC, lore, memory, _history(2), "Any rooms?", mind=mind)
    system = messages[0].content
    assert "You are Mira" in system
    assert "- Emberfall > The Gilded Goose: The inn is old." in system
    assert "2 times" in system
    assert system.endswith(mind)
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[-1].content == "Any rooms?"


def test_history_keeps_the_newest_that_fit_the_budget() -> None:
    history = _history(500)
    kept = history_within_budget(history, "mira", HISTORY_TOKEN_BUDGET)
    assert 0 < len(kept) < 500
    assert kept[-1].content == history[-1].text  # newest kept, oldest first
    assert sum(len(m.content) // 4 + 4 for m in kept) <= HISTORY_TOKEN_BUDGET
