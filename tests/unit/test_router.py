from aicore.models.router import SCRIPTED, Completion, ModelRequest, Router, Tier, tier_for_budget
from aicore.models.wire import ChatMessage

from tests.fakes import ScriptedEndpoint

NAMES = {Tier.GOLD: "ep-gold", Tier.SILVER: "ep-silver"}
REQUEST = ModelRequest([ChatMessage(role="user", content="hi")], first_token_budget_ms=100, max_tokens=16)


def _stream(endpoint: ScriptedEndpoint) -> tuple[Completion, list[str]]:
    tokens: list[str] = []
    completion = Router(endpoint, NAMES).stream(REQUEST, tokens.append, lambda: "A scripted line.")
    return completion, tokens


def test_budget_picks_the_tier() -> None:
    assert tier_for_budget(50) == Tier.GOLD
    assert tier_for_budget(100) == Tier.GOLD
    assert tier_for_budget(500) == Tier.SILVER
    assert tier_for_budget(None) == Tier.SILVER


def test_gold_answers_when_healthy() -> None:
    completion, tokens = _stream(ScriptedEndpoint())
    assert tokens == ["Well ", "met, ", "traveller."]
    assert completion.text == "Well met, traveller."
    assert (completion.tier, completion.fallback, completion.tokens) == ("gold", False, 3)


def test_falls_back_to_silver_then_scripted() -> None:
    endpoint = ScriptedEndpoint(failing={"ep-gold"})
    completion, _ = _stream(endpoint)
    assert endpoint.calls == ["ep-gold", "ep-silver"]
    assert (completion.tier, completion.fallback) == ("silver", True)

    completion, tokens = _stream(ScriptedEndpoint(failing={"ep-gold", "ep-silver"}))
    assert (completion.tier, completion.text) == (SCRIPTED, "A scripted line.")
    assert tokens == ["A scripted line."]


def test_a_stream_cut_midway_keeps_what_was_said() -> None:
    endpoint = ScriptedEndpoint(cut_after=2)
    completion, tokens = _stream(endpoint)
    assert endpoint.calls == ["ep-gold"]  # no second answer on top of the first one's start
    assert tokens == ["Well ", "met, "]
    assert completion.truncated
    assert completion.text == "Well met,"
