"""A reply cut at the token limit says so: `truncated: true`, `truncated_reason: "length"`.

The words already streamed to the player are the reply (they are not trimmed afterwards, so
the stored line is what the player read); the tier stays healthy, since reaching `max_tokens`
is not a failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from aicore.aws.sagemaker_runtime import stream_items
from aicore.llm.endpoint import ChatStream, Finish
from aicore.llm.router import BreakerState, ModelRequest, Outcome, Router, Tier
from aicore.llm.wire import SSE_DONE, ChatMessage, Usage, sse_event
from tests.fakes import ScriptedEndpoint
from tests.npc_turns import say, turn_deps
from tests.unit.test_sse_reassembly import PayloadParts

REQUEST = ModelRequest([ChatMessage(role="user", content="hi")], first_token_budget_ms=100, max_tokens=3)


@dataclass
class FinishingEndpoint(ScriptedEndpoint):
    """Streams its tokens, then says why it stopped, as a model server does in its last chunk."""

    finish_reason: str = "length"

    def _items(self, endpoint_name: str) -> Iterator[str | Usage | Finish]:  # type: ignore[override]
        yield from super()._items(endpoint_name)
        yield Finish(self.finish_reason)


def _chunk(content: str | None, finish_reason: str | None = None) -> str:
    delta = {"content": content} if content is not None else {}
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return json.dumps(
        {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]}
    )


def test_the_stream_carries_the_finish_reason_of_its_last_chunk() -> None:
    # Given a stream that reached max_tokens in the middle of a word
    events = [_chunk("I have a sw"), _chunk(None, finish_reason="length"), SSE_DONE]
    body = PayloadParts([b"".join(sse_event(event) for event in events)])

    # When it is read
    stream = ChatStream(stream_items("ep", body))
    text = "".join(stream)

    # Then the text is all there and the reason is known
    assert text == "I have a sw"
    assert stream.finish_reason == "length"


def test_a_reply_cut_at_the_token_limit_is_truncated_and_the_tier_stays_healthy() -> None:
    router = Router(FinishingEndpoint(tokens=("I have ", "a sw")), {Tier.GOLD: "ep-gold"})

    completion = router.stream(REQUEST, lambda _: None, lambda: "A scripted line.")

    assert (completion.text, completion.tier) == ("I have a sw", "gold")
    assert completion.truncated
    assert completion.truncated_reason == "length"
    assert [a.outcome for a in completion.attempts] == [Outcome.ANSWERED]
    assert router.breakers[Tier.GOLD].state is BreakerState.CLOSED


def test_a_reply_the_model_finished_is_not_truncated() -> None:
    router = Router(FinishingEndpoint(finish_reason="stop"), {Tier.GOLD: "ep-gold"})

    completion = router.stream(REQUEST, lambda _: None, lambda: "A scripted line.")

    assert not completion.truncated
    assert completion.truncated_reason is None


def test_a_broken_stream_says_why_it_was_cut() -> None:
    router = Router(ScriptedEndpoint(cut_after=1), {Tier.GOLD: "ep-gold"})

    completion = router.stream(REQUEST, lambda _: None, lambda: "A scripted line.")

    assert completion.truncated
    assert completion.truncated_reason == "StreamCut"


def test_the_npc_reply_frame_reports_a_reply_cut_at_the_token_limit() -> None:
    deps = turn_deps(endpoint=FinishingEndpoint(tokens=("Rooms are ", "ch")))

    reply = say(deps).of_type("npc.reply")[0]

    assert reply["data"]["text"] == "Rooms are ch"
    assert reply["data"]["truncated"] is True
    assert reply["data"]["truncated_reason"] == "length"
