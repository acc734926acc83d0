"""A long game, bounded: 2,000 turns of one player with one NPC. The pair's memories stay within
the stated bound after every turn, and the important fact told at turn 10 is still what the NPC
recalls first at turn 2,000 (some 500 game hours later)."""

from __future__ import annotations

from tests.minds import long_game


def test_two_thousand_turns_stay_bounded_and_keep_what_mattered() -> None:
    # Given one player talking with Mira every 15 game minutes, mostly small talk, once something vital
    outcome = long_game(turns=2000, fact_turn=10)
    # Then memory never grew past the bound, and the fact is recalled first when asked about
    assert outcome["most_memories"] <= outcome["bound"] == 80
    assert outcome["fact_rank"] == 1
