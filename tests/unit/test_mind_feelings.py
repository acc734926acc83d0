"""Appraisal (model in a strict format, else a heuristic), emotions that return to the temperament,
relationships on a bounded scale with a short history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicore.clock import stamp
from aicore.llm.endpoint import TierTarget
from aicore.mind.appraisal import ModelAppraiser, heuristic_appraisal, parse_appraisal
from aicore.mind.emotions import Emotion, EmotionState, Temperament
from aicore.mind.relationship import Relationship, RelationshipChange
from tests.fakes import ScriptedEndpoint
from tests.minds import START


def _appraiser(answer: str, failing: bool = False) -> ModelAppraiser:
    endpoint = ScriptedEndpoint(tokens=(answer,), failing={"silver"} if failing else set())
    return ModelAppraiser(endpoint, TierTarget("silver"), timeout_s=1.0, max_change=10)


def test_the_models_strict_line_is_taken_and_anything_else_falls_back() -> None:
    scored = _appraiser("importance=8 trust=-2 affinity=3 emotion=fear").appraise(
        "Mira", "Bandits!", "Oh no."
    )
    assert (scored.scored_by, scored.importance, scored.trust, scored.affinity) == ("model", 8, -4, 6)
    assert scored.stimulus == {Emotion.FEAR: 0.3}
    for answer, failing in (("Sure! I'd rate it 8/10.", False), ("importance=11 trust=0", False), ("", True)):
        fallback = _appraiser(answer, failing).appraise("Mira", "My name is Aldric.", "Welcome.")
        assert fallback.scored_by == "heuristic"
        assert fallback == heuristic_appraisal("My name is Aldric.", "Welcome.")


def test_the_heuristic_tells_what_matters_from_small_talk() -> None:
    vital = heuristic_appraisal("My sister Elara was kidnapped by the Red Hand bandits.", "Oh.")
    chat = heuristic_appraisal("Hello, nice weather.", "Aye.")
    assert vital.importance >= 7 > 3 >= chat.importance
    assert (
        heuristic_appraisal("You stupid liar.", "Hm.").affinity
        < 0
        < heuristic_appraisal("Thank you, friend.", "").affinity
    )
    assert heuristic_appraisal("It's a secret, don't tell anyone.", "").shareable is False


@given(st.text(max_size=400), st.text(max_size=200))
def test_any_text_is_appraised_within_the_scales(line: str, reply: str) -> None:
    appraisal = heuristic_appraisal(line, reply)
    assert 1 <= appraisal.importance <= 10
    assert -10 <= appraisal.trust <= 10
    assert -10 <= appraisal.affinity <= 10
    assert parse_appraisal(line, line, reply, 10) is None or line.startswith("importance=")


def test_emotions_return_half_way_to_the_temperament_each_half_life() -> None:
    calm = Temperament(joy=0.5, anger=0.0)
    state = EmotionState.resting("demo", "mira", calm, stamp(START)).felt(
        START, stamp(START), calm, 2.0, {Emotion.ANGER: 0.8}
    )
    assert state.intensities[Emotion.ANGER] == pytest.approx(0.8)
    assert state.at(START + timedelta(hours=2), calm, 2.0)[Emotion.ANGER] == pytest.approx(0.4)
    assert state.at(START + timedelta(hours=20), calm, 2.0)[Emotion.ANGER] == pytest.approx(0.0, abs=0.001)
    assert state.at(START + timedelta(hours=20), calm, 2.0)[Emotion.JOY] == pytest.approx(0.5, abs=0.001)
    piled = state.felt(START, stamp(START), calm, 2.0, {Emotion.ANGER: 5.0})
    assert piled.intensities[Emotion.ANGER] == 1.0  # bounded


@given(st.lists(st.tuples(st.integers(-50, 50), st.integers(-50, 50)), max_size=40))
def test_a_relationship_stays_on_its_scale_with_a_short_history(changes: list[tuple[int, int]]) -> None:
    relationship = Relationship.first("demo", "mira", "p1")
    for n, (trust, affinity) in enumerate(changes):
        change = RelationshipChange(
            at=stamp(START + timedelta(minutes=n)), trust=trust, affinity=affinity, reason="r"
        )
        relationship = relationship.changed(change, keep=10)
    assert -100 <= relationship.trust <= 100
    assert -100 <= relationship.affinity <= 100
    assert len(relationship.history) <= 10
    assert relationship.version == len(changes)
    assert sum(c.trust for c in relationship.history) == relationship.trust or len(relationship.history) == 10
