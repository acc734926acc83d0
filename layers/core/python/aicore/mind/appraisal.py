"""How much a turn matters and how it lands: the importance of each line (1..10), how trust and
affinity move, and what the NPC feels. The silver tier scores it in a strict one-line format
with a timeout; anything else (no answer in time, a line that does not parse) falls back to a
cheap heuristic, so a turn is always appraised."""

from __future__ import annotations

import re
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from aicore.errors import ModelUnavailable
from aicore.llm.endpoint import ChatCall, ModelEndpoint, TierTarget
from aicore.llm.wire import ChatMessage
from aicore.mind.emotions import Emotion
from aicore.mind.text import STOPWORDS, word_set
from aicore.observability import logger

MODEL_SCALE = 5  # the model moves trust and affinity by -5..5; a turn by twice that at most
APPRAISAL_MAX_TOKENS = 24
APPRAISAL_INSTRUCTIONS = (
    "You rate one exchange between a player and an NPC in a game. Answer with exactly one line, "
    "nothing else, in this format:\n"
    "importance=<1-10> trust=<-5..5> affinity=<-5..5> emotion=<joy|anger|fear|sadness|surprise|none>\n"
    "importance: how much the NPC should remember what the player said (1 small talk, 10 life-changing). "
    "trust and affinity: how the NPC's trust in and liking of the player change. "
    "emotion: what the NPC feels most."
)
_STRICT = re.compile(
    r"importance=(10|[1-9]) trust=([+-]?[0-5]) affinity=([+-]?[0-5]) "
    r"emotion=(joy|anger|fear|sadness|surprise|none)"
)


class Appraisal(BaseModel):
    importance: int = Field(ge=1, le=10)  # of the player's line
    reply_importance: int = Field(ge=1, le=10)  # of the NPC's own line
    trust: int  # change, within the policy's max per turn
    affinity: int
    stimulus: dict[Emotion, float] = Field(default_factory=dict)  # added to the NPC's emotions
    reason: str
    shareable: bool  # the player did not ask for secrecy
    scored_by: Literal["model", "heuristic"]


class Appraiser(Protocol):
    def appraise(self, npc_name: str, player_line: str, reply: str) -> Appraisal: ...


_DISCLOSURE = re.compile(
    r"\b(my name is|i am called|call me|i was born|i come from|i grew up|my (sister|brother|mother|father|"
    r"mum|mom|dad|wife|husband|son|daughter|child|children|family|friend|wife's|husband's)|"
    r"i (lost|need|promise|swear|owe|fear|love|hate|killed|saw))\b"
)
_STAKES = word_set(
    """dead died death kill killed murder murdered kidnapped taken stolen stole secret promise swear
    love hate war curse cursed treasure gold quest king queen dragon missing help afraid fear sick
    dying blood revenge betrayed prisoner hostage bandits army plague"""
)
_SMALL_TALK = word_set("""hello hi hey thanks bye goodbye weather ok okay yes no sure fine morning evening""")
_KIND = word_set(
    """thank thanks please friend kind love great wonderful lovely gift brought sorry honest trust help
    appreciate beautiful delicious welcome"""
)
_RUDE = word_set(
    """hate stupid idiot liar shut useless damn fool ugly worthless pathetic disgusting coward filthy"""
)
_TRUSTWORTHY = word_set("""promise swear honest truth trust paid repay return""")
_UNTRUSTWORTHY = word_set("""lie lied liar cheat cheated steal stole threaten threat rob robbed trick""")
_FEARFUL = word_set("""kill dragon bandits army plague blood threaten threat monster curse cursed dying""")
_SAD = word_set("""dead died death lost missing taken sick dying alone funeral grief""")
_SURPRISING = word_set("""strange impossible really incredible unbelievable secret""")
_SECRECY = re.compile(
    r"\b(secret|don'?t tell|do not tell|between (us|you and me)|keep (it|this) (quiet|to yourself)|"
    r"promise not to)\b"
)
_WORDS = re.compile(r"[a-z']+")
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]{2,}")


def _clamp(value: float, low: int, high: int) -> int:
    return int(max(low, min(high, round(value))))


def heuristic_appraisal(player_line: str, reply: str, max_change: int = 10) -> Appraisal:
    """Cues in the words: disclosures and high stakes matter, small talk does not; kind and rude
    words move affinity, promises and lies trust; a few word lists stir the emotions."""
    lower = player_line.lower()
    words = set(_WORDS.findall(lower))
    content = words - STOPWORDS
    importance = 2.0
    importance += 3 if _DISCLOSURE.search(lower) else 0
    importance += min(3, 1.5 * len(content & _STAKES))
    importance += 1 if _NAME.search(player_line) else 0
    importance += 1 if len(player_line) > 80 else 0
    importance -= 1 if content and content <= _SMALL_TALK else 0
    kind, rude = len(words & _KIND), len(words & _RUDE)
    trust = 3 * len(words & _TRUSTWORTHY) - 4 * len(words & _UNTRUSTWORTHY) - rude
    affinity = 2 * kind - 3 * rude
    stimulus = {
        Emotion.JOY: 0.12 * kind,
        Emotion.ANGER: 0.2 * rude + 0.1 * len(words & _UNTRUSTWORTHY),
        Emotion.FEAR: 0.15 * len(words & _FEARFUL),
        Emotion.SADNESS: 0.15 * len(words & _SAD),
        Emotion.SURPRISE: 0.1 * len(words & _SURPRISING) + (0.1 if "!" in player_line else 0),
    }
    reasons = [
        label
        for label, present in (
            ("kind words", kind),
            ("rude words", rude),
            ("a promise", words & _TRUSTWORTHY),
            ("deceit", words & _UNTRUSTWORTHY),
        )
        if present
    ]
    reply_words = set(_WORDS.findall(reply.lower()))
    return Appraisal(
        importance=_clamp(importance, 1, 10),
        reply_importance=_clamp(2 + min(2, len(reply_words & _STAKES)), 1, 10),
        trust=_clamp(trust, -max_change, max_change),
        affinity=_clamp(affinity, -max_change, max_change),
        stimulus={e: round(min(0.6, v), 3) for e, v in stimulus.items() if v > 0},
        reason=", ".join(reasons) or "a plain exchange",
        shareable=_SECRECY.search(lower) is None,
        scored_by="heuristic",
    )


def parse_appraisal(line: str, player_line: str, reply: str, max_change: int) -> Appraisal | None:
    """The model's line in the strict format (first line only), or None when it is anything else."""
    found = _STRICT.fullmatch(line.strip().splitlines()[0].strip() if line.strip() else "")
    if found is None:
        return None
    importance, trust, affinity, emotion = found.groups()
    fallback = heuristic_appraisal(player_line, reply, max_change)
    scale = max_change / MODEL_SCALE
    return Appraisal(
        importance=int(importance),
        reply_importance=fallback.reply_importance,
        trust=_clamp(int(trust) * scale, -max_change, max_change),
        affinity=_clamp(int(affinity) * scale, -max_change, max_change),
        stimulus={} if emotion == "none" else {Emotion(emotion): 0.3},
        reason=f"the model read it as {emotion}" if emotion != "none" else "the model read it as calm",
        shareable=fallback.shareable,
        scored_by="model",
    )


class ModelAppraiser:
    """`Appraiser` over the silver tier: one short non-streamed call, the heuristic if it fails."""

    def __init__(
        self, endpoint: ModelEndpoint, target: TierTarget, timeout_s: float, max_change: int
    ) -> None:
        self._endpoint, self._target = endpoint, target
        self._timeout_s, self._max_change = timeout_s, max_change

    def appraise(self, npc_name: str, player_line: str, reply: str) -> Appraisal:
        call = ChatCall(
            self._target,
            [
                ChatMessage(role="system", content=APPRAISAL_INSTRUCTIONS),
                ChatMessage(role="user", content=f"Player: {player_line[:1000]}\n{npc_name}: {reply[:600]}"),
            ],
            max_tokens=APPRAISAL_MAX_TOKENS,
            temperature=0.0,
            timeout_s=self._timeout_s,
        )
        try:
            answer = self._endpoint.chat(call).text
        except ModelUnavailable as exc:
            logger.info("Appraisal by heuristic: no model answer", extra={"reason": exc.message})
            return heuristic_appraisal(player_line, reply, self._max_change)
        parsed = parse_appraisal(answer, player_line, reply, self._max_change)
        if parsed is None:
            logger.info("Appraisal by heuristic: the model's line is not in the format")
            return heuristic_appraisal(player_line, reply, self._max_change)
        return parsed
