from aicore.npc.prompt import HISTORY_TOKEN_BUDGET, build_prompt, history_within_budget
from aicore.sessions.models import Message, Participant, ParticipantKind
from aicore.world.models import LoreFact, Npc, NpcMemory

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
    lore = [LoreFact(fact_id="f", world_id="demo", text="The inn is old.")]
    memory = NpcMemory(world_id="demo", npc_id="mira", player_id="p1", turns=2, last_player_line="ale please")
    messages = build_prompt(NPC, lore, memory, _history(2), "Any rooms?")
    system = messages[0].content
    assert "You are Mira" in system
    assert "The inn is old." in system
    assert "2 times" in system
    assert "ale please" in system
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[-1].content == "Any rooms?"


def test_history_keeps_the_newest_that_fit_the_budget() -> None:
    history = _history(500)
    kept = history_within_budget(history, "mira", HISTORY_TOKEN_BUDGET)
    assert 0 < len(kept) < 500
    assert kept[-1].content == history[-1].text  # newest kept, oldest first
    assert sum(len(m.content) // 4 + 4 for m in kept) <= HISTORY_TOKEN_BUDGET
