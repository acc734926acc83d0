"""Context for the model: the rolling summary plus the newest messages that fit the budget."""

from __future__ import annotations

from aicore.npc.prompt import HISTORY_TOKEN_BUDGET, SUMMARY_TOKEN_BUDGET, build_prompt, summary_within_budget
from aicore.sessions.compaction import summary_prompt
from aicore.sessions.models import Message, Participant, ParticipantKind
from aicore.world.models import Npc

NPC = Npc(
    npc_id="mira", world_id="demo", name="Mira", persona="Innkeeper.", speech_style="Warm.", greeting="Hi"
)
PLAYER = Participant(id="p1", kind=ParticipantKind.PLAYER)


def _history(count: int, text: str = "a line of forty characters, more or less") -> list[Message]:
    return [Message(seq=i, speaker=PLAYER, text=f"{text} {i}") for i in range(1, count + 1)]


def test_the_summary_goes_into_the_system_prompt_and_takes_from_the_history_budget() -> None:
    without = build_prompt(NPC, [], None, _history(100), "Hello?")
    with_summary = build_prompt(
        NPC, [], None, _history(100), "Hello?", summary="The traveller owes Mira 3 coins."
    )
    assert "Earlier in this conversation: The traveller owes Mira 3 coins." in with_summary[0].content
    assert "Earlier" not in without[0].content
    # The history shrinks to make room for the summary, newest lines kept, the player's line last
    assert len(with_summary) < len(without)
    assert with_summary[-2].content == without[-2].content == "a line of forty characters, more or less 100"
    assert with_summary[-1].content == "Hello?"


def test_a_long_summary_keeps_its_most_recent_part() -> None:
    summary = " ".join(f"event{i}" for i in range(1000))
    clipped = summary_within_budget(summary, SUMMARY_TOKEN_BUDGET)
    assert len(clipped) <= SUMMARY_TOKEN_BUDGET * 4 + 1
    assert clipped.endswith("event999")
    assert clipped.startswith("…event")
    prompt = build_prompt(NPC, [], None, _history(3), "Hi", summary=summary)
    assert sum(len(m.content) for m in prompt[1:]) < HISTORY_TOKEN_BUDGET * 4


def test_summary_prompt_keeps_the_newest_lines_that_fit() -> None:
    messages = _history(500)
    prompt = summary_prompt("Earlier: they met.", messages, input_tokens=300)
    body = prompt[1].content
    assert body.startswith("Summary so far:\nEarlier: they met.")
    assert body.endswith("more or less 500")
    assert "more or less 1\n" not in body
    assert len(body) <= 300 * 4 + 100
