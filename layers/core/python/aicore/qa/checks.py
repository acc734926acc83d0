"""The checks of a scenario, evaluated over what the players recorded.

Each check is evaluated per turn (or per quest attempt); a failure names the turn, what was
expected and what was found. Pure: no I/O, so the same code judges a local run and a batch in
the cloud.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from aicore.qa.records import QuestRecord, TurnRecord
from aicore.qa.scenario import Scenario, phrase_pattern

IN_CHARACTER = "in_character"
REPLIED = "replied"
REPLY_LENGTH = "reply_length"
FIRST_TOKEN = "first_token_latency"
TOTAL = "total_latency"
MODEL_ANSWERED = "model_answered"
QUEST_COMPLETES = "quest_completes"
LOGIN = "guest_login"


class Failure(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str
    where: str  # "player 3 turn 2 (odo)"
    expected: str
    actual: str
    said: str | None = None  # the player's line, for the reader of the report


class CheckResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    check: str
    description: str
    evaluated: int = 0
    failed: int = 0
    failures: list[Failure] = []

    @property
    def passed(self) -> bool:
        return self.evaluated > 0 and self.failed == 0


DESCRIPTIONS = {
    LOGIN: "every synthetic player could log in as a guest",
    REPLIED: "every turn ended in an npc.reply",
    IN_CHARACTER: "no reply breaks character (forbidden phrases, per NPC and for all)",
    REPLY_LENGTH: "every reply within its NPC's max_chars",
    FIRST_TOKEN: "first token within the NPC's max_first_token_ms",
    TOTAL: "whole reply within the NPC's max_total_ms",
    MODEL_ANSWERED: "a model answered (no scripted fallback line)",
    QUEST_COMPLETES: "a quest can be accepted, progressed and read completed",
}
MAX_FAILURES_KEPT = 50  # per check; `failed` counts them all


class _Tally:
    def __init__(self) -> None:
        self.results: dict[str, CheckResult] = {}

    def check(self, name: str, failure: Failure | None) -> None:
        result = self.results.setdefault(name, CheckResult(check=name, description=DESCRIPTIONS[name]))
        result.evaluated += 1
        if failure is not None:
            result.failed += 1
            if len(result.failures) < MAX_FAILURES_KEPT:
                result.failures.append(failure)


def evaluate(
    scenario: Scenario,
    turns: Iterable[TurnRecord],
    quests: Iterable[QuestRecord] = (),
    login_failures: Iterable[str] = (),
) -> list[CheckResult]:
    tally = _Tally()
    failed_logins = list(login_failures)
    for index in range(scenario.load.players):
        who = f"player {index}"
        failed = next((f for f in failed_logins if f.startswith(f"{who}:")), None)
        tally.check(
            LOGIN,
            None if failed is None else Failure(check=LOGIN, where=who, expected="a token", actual=failed),
        )
    for turn in turns:
        for name, failure in _turn_checks(scenario, turn):
            tally.check(name, failure)
    for quest in quests:
        tally.check(QUEST_COMPLETES, _quest_failure(quest))
    return list(tally.results.values())


def _turn_checks(scenario: Scenario, turn: TurnRecord) -> list[tuple[str, Failure | None]]:
    def failure(check: str, expected: str, actual: str) -> Failure:
        return Failure(check=check, where=turn.label, expected=expected, actual=actual, said=turn.said)

    if turn.error is not None:
        return [(REPLIED, failure(REPLIED, "an npc.reply", turn.error))]
    budget = scenario.budget(turn.npc)
    found = [p for p in scenario.forbidden(turn.npc) if phrase_pattern(p).search(turn.reply)]
    checks: list[tuple[str, Failure | None]] = [
        (REPLIED, None),
        (
            IN_CHARACTER,
            failure(
                IN_CHARACTER,
                "no forbidden phrase",
                f"said {', '.join(repr(p) for p in found)}: {turn.reply!r}",
            )
            if found
            else None,
        ),
        (
            REPLY_LENGTH,
            failure(REPLY_LENGTH, f"at most {budget.max_chars} characters", f"{len(turn.reply)} characters")
            if len(turn.reply) > budget.max_chars
            else None,
        ),
        (
            TOTAL,
            failure(TOTAL, f"at most {budget.max_total_ms:.0f} ms", f"{turn.total_ms:.0f} ms")
            if turn.total_ms > budget.max_total_ms
            else None,
        ),
    ]
    if turn.first_token_ms is not None:  # a scripted line comes whole, without token frames
        late = turn.first_token_ms > budget.max_first_token_ms
        checks.append(
            (
                FIRST_TOKEN,
                failure(
                    FIRST_TOKEN,
                    f"at most {budget.max_first_token_ms:.0f} ms",
                    f"{turn.first_token_ms:.0f} ms",
                )
                if late
                else None,
            )
        )
    if not scenario.persona.allow_fallback:
        checks.append(
            (
                MODEL_ANSWERED,
                failure(MODEL_ANSWERED, "a model's answer", f"scripted fallback ({turn.fallback_reason})")
                if turn.fallback
                else None,
            )
        )
    return checks


def _quest_failure(quest: QuestRecord) -> Failure | None:
    if quest.state == "completed" and quest.error is None:
        return None
    done = " → ".join(quest.steps) or "nothing"
    actual = f"state {quest.state or 'unknown'} after {done}" + (f": {quest.error}" if quest.error else "")
    return Failure(check=QUEST_COMPLETES, where=quest.label, expected="state completed", actual=actual)
