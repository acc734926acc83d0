"""Prompt assembly: persona, the world around the NPC now (time, weather, facts), the lore it may
know, its mind (memories of the player, relationship, mood), the summary and recent conversation,
the new line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aicore.knowledge.models import ChunkHit
from aicore.llm.wire import ChatMessage
from aicore.sessions.models import Message, ParticipantKind
from aicore.world.models import Npc, NpcMemory

CHARS_PER_TOKEN = 4  # a rough, safe estimate for budgeting context
HISTORY_TOKEN_BUDGET = 600
SUMMARY_TOKEN_BUDGET = 200  # of the history budget, at most this much goes to the rolling summary
WORLD_PROMPT_CHARS = 600  # the world now (`WorldNow.prompt_lines`): about 150 tokens


def system_prompt(
    npc: Npc,
    lore: Sequence[ChunkHit] = (),
    memory: NpcMemory | None = None,
    mind: str = "",
    world: Sequence[str] = (),
) -> str:
    """`lore`: the chunks the turn found (only what the NPC may know, already within its budget);
    `mind`: `aicore.mind.turn.prompt_section` (memories, relationship, mood); `world`: the lines of
    `WorldNow.prompt_lines` (already within `WORLD_PROMPT_CHARS`)."""
    lines = [
        f"You are {npc.name}. {npc.persona}",
        f"Speak as {npc.name}: {npc.speech_style}",
        "Answer in one or two short sentences. Never mention being an AI.",
    ]
    if world:
        lines.append("Around you now: " + " ".join(world))
    if npc.secrets:
        lines.append("You know, and never say outright (at most you hint): " + " ".join(npc.secrets))
    if lore:
        lines.append("What you know of your world (most relevant first):")
        lines += [f"- {_passage(hit)}" for hit in lore]
    if memory and memory.turns:
        lines.append(f"You have spoken with this traveller {memory.turns} times before.")
    if mind:
        lines.append(mind)
    return "\n".join(lines)


def _passage(hit: ChunkHit) -> str:
    heading = hit.heading or hit.title
    text = " ".join(hit.text.split())
    return f"{heading}: {text}" if heading else text


def history_within_budget(
    history: list[Message], npc_id: str, budget_tokens: int, speakers: Mapping[str, str] | None = None
) -> list[ChatMessage]:
    """The newest messages that fit the budget, oldest first, as chat turns. With `speakers` (a
    group session: participant id -> name), every line but the NPC's own names who said it."""
    chosen: list[ChatMessage] = []
    used = 0
    for message in reversed(history):
        is_npc = message.speaker.kind == ParticipantKind.NPC and message.speaker.id == npc_id
        text = (
            message.text
            if is_npc or speakers is None
            else _said_by(speakers, message.speaker.id, message.text)
        )
        cost = len(text) // CHARS_PER_TOKEN + 4
        if used + cost > budget_tokens:
            break
        chosen.append(ChatMessage(role="assistant" if is_npc else "user", content=text))
        used += cost
    return list(reversed(chosen))


def _said_by(speakers: Mapping[str, str], speaker_id: str, text: str) -> str:
    return f"{speakers.get(speaker_id, speaker_id)}: {text}"


def group_line(npc: Npc, speakers: Mapping[str, str]) -> str:
    """Who else is in a group conversation (the system prompt names them; lines carry their names)."""
    others = [name for speaker_id, name in speakers.items() if speaker_id != npc.npc_id]
    return (
        f"This is a conversation among several people: {', '.join(others)} and you. "
        "Each line begins with who said it; answer the last one, as yourself only."
    )


def summary_within_budget(summary: str, budget_tokens: int) -> str:
    """The rolling summary, cut at a word to fit the budget (its end is the most recent part)."""
    limit = budget_tokens * CHARS_PER_TOKEN
    if len(summary) <= limit:
        return summary
    clipped = summary[len(summary) - limit :]
    return "…" + clipped.split(" ", 1)[-1]


def build_prompt(
    npc: Npc,
    lore: Sequence[ChunkHit],
    memory: NpcMemory | None,
    history: list[Message],
    player_line: str,
    summary: str = "",
    mind: str = "",
    world: Sequence[str] = (),
    speakers: Mapping[str, str] | None = None,
    speaker_id: str | None = None,
) -> list[ChatMessage]:
    """Persona, the world now, lore and mind, the summary of what came before, then the newest lines
    that fit the budget. `speakers` (a group session: participant id -> name, the NPCs by name) names
    every speaker; `speaker_id` is who says `player_line`."""
    system = system_prompt(npc, lore, memory, mind, world)
    if speakers is not None:
        system += "\n" + group_line(npc, speakers)
        if speaker_id is not None:
            player_line = _said_by(speakers, speaker_id, player_line)
    history_budget = HISTORY_TOKEN_BUDGET
    if summary:
        earlier = summary_within_budget(summary, SUMMARY_TOKEN_BUDGET)
        system += f"\nEarlier in this conversation: {earlier}"
        history_budget -= len(earlier) // CHARS_PER_TOKEN + 4
    return [
        ChatMessage(role="system", content=system),
        *history_within_budget(history, npc.npc_id, history_budget, speakers),
        ChatMessage(role="user", content=player_line),
    ]
