"""The language system: deterministic lexicons, the phrases an NPC sprinkles, proficiency."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from aicore.language.lexicon import CONCEPTS, PHRASES, PhraseKind, build_lexicon, faction_lexicon, lexicon_of
from aicore.language.proficiency import Proficiency, proficiency
from aicore.language.speech import NOTHING, STRONG_FEELING, Moment, sprinkle
from aicore.world.content import Language
from tests.world_fakes import demo_content

ASHTONGUE = Language(name="Ashtongue", seed="ashtongue-1")
seeds = st.text(min_size=1, max_size=64)


def _fresh(seed: str):  # type: ignore[no-untyped-def]
    return build_lexicon.__wrapped__("lang", "Lang", seed)


@settings(max_examples=60, deadline=None)
@given(seeds)
def test_a_lexicon_is_a_function_of_its_seed(seed: str) -> None:
    assert _fresh(seed) == _fresh(seed)


@settings(max_examples=60, deadline=None)
@given(seeds)
def test_every_concept_has_its_own_word_of_the_languages_sounds(seed: str) -> None:
    lexicon = _fresh(seed)
    words = list(lexicon.words.values())
    assert list(lexicon.words) == [c.key for c in CONCEPTS]
    assert len(set(words)) == len(words)
    assert all(len(word) >= 2 for word in words)
    letters = set("".join(lexicon.consonants + lexicon.vowels))
    assert all(set(word) <= letters for word in words)
    texts = [p.text for p in lexicon.phrases]
    assert len(set(texts)) == len(texts) == len(PHRASES)
    assert {p.kind for p in lexicon.phrases} == set(PhraseKind)


def test_each_process_builds_the_same_lexicon() -> None:
    # Given another interpreter with another hash seed (as another Lambda would be)
    code = (
        "import json; from aicore.language.lexicon import lexicon_of;"
        "from aicore.world.content import Language;"
        "print(json.dumps(lexicon_of(Language(name='Ashtongue', seed='ashtongue-1')).words))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    # Then its words are ours
    assert json.loads(out.stdout) == lexicon_of(ASHTONGUE).words


def test_the_demo_languages_are_pinned_and_differ() -> None:
    # A lexicon must not change under players who learnt it: these words are part of the contract
    ashtongue = lexicon_of(ASHTONGUE)
    assert (ashtongue.language_id, ashtongue.words["hello"], ashtongue.words["friend"]) == (
        "ashtongue",
        "thuz",
        "eish",
    )
    lacustrine = lexicon_of(Language(name="Old Lacustrine", seed="lacustrine-1"))
    assert lacustrine.language_id == "old-lacustrine"
    assert lacustrine.words["hello"] == "iki"
    assert not set(ashtongue.words.values()) & set(lacustrine.words.values())
    # And a faction without a language speaks none
    factions = demo_content().factions
    assert faction_lexicon(factions, "ashen-hand") == ashtongue
    assert faction_lexicon(factions, "townsfolk") is None
    assert faction_lexicon(factions, None) is None


def _moment(**fields: object) -> Moment:
    base: dict[str, object] = {
        "turn_id": "t-1",
        "first_line": False,
        "player_line": "What news?",
        "feeling": 0.2,
    }
    return Moment(**(base | fields))  # type: ignore[arg-type]


def test_a_first_line_opens_with_a_greeting_and_closes_with_nothing_more() -> None:
    said = sprinkle(lexicon_of(ASHTONGUE), _moment(first_line=True))
    assert said.opening is not None
    assert said.opening.kind is PhraseKind.GREETING
    assert said.closing is None
    assert said.spoken("Who goes there?") == f"{said.opening.text}! Who goes there?"


def test_a_player_taking_leave_hears_a_farewell_and_strong_feelings_an_oath() -> None:
    lexicon = lexicon_of(ASHTONGUE)
    leaving = sprinkle(lexicon, _moment(player_line="Farewell, Vex.", feeling=0.9))
    assert leaving.closing is not None
    assert leaving.closing.kind is PhraseKind.FAREWELL  # leave-taking wins over feelings
    angry = sprinkle(lexicon, _moment(feeling=STRONG_FEELING))
    assert angry.closing is not None
    assert angry.closing.kind is PhraseKind.OATH
    calm = sprinkle(lexicon, _moment())
    assert calm.closing is not None
    assert calm.closing.kind is PhraseKind.EVERYDAY
    assert calm.opening is None
    assert calm.spoken("Move along.") == f"Move along. {calm.closing.text}."


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40), st.booleans(), st.text(max_size=200), st.floats(0, 1))
def test_every_reply_carries_one_or_two_phrases_the_same_every_time(
    turn_id: str, first_line: bool, player_line: str, feeling: float
) -> None:
    moment = Moment(turn_id=turn_id, first_line=first_line, player_line=player_line, feeling=feeling)
    said = sprinkle(lexicon_of(ASHTONGUE), moment)
    assert 1 <= len(said.phrases) <= 2
    assert said == sprinkle(lexicon_of(ASHTONGUE), moment)
    assert sum(said.heard().values()) == len(said.phrases)
    assert sprinkle(None, moment) is NOTHING


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_proficiency_grows_with_exposure_and_never_reaches_100(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert 0 <= proficiency(low) <= proficiency(high) < 100
    assert proficiency(0) == 0


def test_a_translation_is_revealed_once_proficiency_reaches_the_phrases_difficulty() -> None:
    said = sprinkle(lexicon_of(ASHTONGUE), _moment(first_line=True, turn_id="t-2"))
    assert said.opening is not None
    difficulty = said.opening.difficulty
    # The fewest phrases heard that reach the greeting's difficulty
    needed = next(n for n in range(1000) if proficiency(n) >= difficulty)
    novice = Proficiency(world_id="demo", player_id="p1", heard={"ashtongue": needed - 1})
    learned = Proficiency(world_id="demo", player_id="p1", heard={"ashtongue": needed})
    [before] = said.views(novice)
    [after] = said.views(learned)
    assert (before.translation, before.proficiency) == (None, proficiency(needed - 1))
    assert (after.translation, after.proficiency) == (said.opening.translation, proficiency(needed))
    assert after.text == said.opening.text
    assert after.language == "ashtongue"
    [stranger] = said.views(None)
    assert (stranger.translation, stranger.proficiency) == (None, 0)
