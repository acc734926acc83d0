"""Token frames paced by time: the first at once, then at most one per interval, the rest before the reply."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from aicore.llm.endpoint import ChatCall, ChatResult, ChatStream
from aicore.llm.router import ModelRequest, Outcome, Router
from aicore.llm.tiers import Tier
from aicore.llm.wire import ChatMessage
from aicore.npc.token_stream import FramePacer, TokenStream
from tests.fakes import FakePusher


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _due(pacer: FramePacer) -> bool:
    wait_s = pacer.wait_s()
    return wait_s is not None and wait_s < 1e-9


def test_the_first_token_goes_at_once_then_one_frame_per_interval() -> None:
    clock = Clock()
    pacer = FramePacer(interval_s=0.05, clock=clock)
    assert pacer.wait_s() is None  # nothing to send
    pacer.add("Well")
    assert _due(pacer)
    assert pacer.take() == "Well"
    # Tokens that come within the interval wait for it, and go together
    pacer.add(" met")
    clock.now += 0.01
    pacer.add(",")
    assert pacer.wait_s() == pytest.approx(0.04)
    clock.now += 0.04
    assert _due(pacer)
    assert pacer.take() == " met,"
    # A token after a quiet spell longer than the interval goes at once
    clock.now += 1.0
    pacer.add(" traveller")
    assert _due(pacer)
    assert pacer.take() == " traveller"
    assert pacer.frames == 3


def test_a_64_token_reply_at_100_tokens_a_second_takes_14_frames() -> None:
    # Given tokens every 10 ms (a GPU tier's pace) and frames at most every 50 ms
    clock = Clock()
    pacer = FramePacer(interval_s=0.05, clock=clock)
    texts = []
    for token in range(64):
        pacer.add(f"t{token} ")
        if _due(pacer):
            texts.append(pacer.take())
        clock.now += 0.01
    texts.append(pacer.take())  # flushed before the reply
    # Then every token arrives, in order, in 14 frames (not 64)
    assert "".join(texts) == "".join(f"t{t} " for t in range(64))
    assert len(texts) == pacer.frames == 14


def test_the_stream_sends_every_token_in_order_and_finishes_before_the_reply() -> None:
    pusher = FakePusher()
    stream = TokenStream(pusher, "c1", "r1", interval_s=0.05)
    for token in range(30):
        assert stream.push(f"w{token} ")
    stream.finish()
    texts = [frame["data"]["text"] for frame in pusher.of_type("npc.token")]
    assert "".join(texts) == "".join(f"w{t} " for t in range(30))
    assert 1 <= len(texts) == stream.frames <= 30


def test_when_the_client_is_gone_pushing_stops_and_says_so() -> None:
    pusher = FakePusher(gone={"c1"})
    stream = TokenStream(pusher, "c1", "r1", interval_s=0.0)
    stream.push("Hello")
    stream.finish()
    assert stream.client_gone
    assert stream.push("more") is False
    assert pusher.frames == []


class EndlessTier:
    """Sends tokens until its stream is aborted, and says whether it was."""

    def __init__(self) -> None:
        self.aborted = threading.Event()

    def stream_chat(self, call: ChatCall) -> ChatStream:
        return ChatStream(self._tokens(), abort=self.aborted.set)

    def _tokens(self) -> Iterator[str]:
        while not self.aborted.is_set():
            yield "word "

    def chat(self, call: ChatCall) -> ChatResult:
        raise NotImplementedError


def test_the_model_is_stopped_as_soon_as_nobody_listens() -> None:
    # Given a model that would talk forever, and a listener that leaves after three tokens
    tier = EndlessTier()
    heard: list[str] = []

    def listener(text: str) -> bool:
        heard.append(text)
        return len(heard) < 3

    router = Router(tier, {Tier.GOLD: "gold", Tier.SILVER: "silver"})
    completion = router.stream(
        ModelRequest([ChatMessage(role="user", content="Hi")], first_token_budget_ms=100, max_tokens=64),
        on_token=listener,
        scripted_line=lambda: "Hm.",
    )
    # Then the model's stream is dropped, the tier is not blamed, and what was said is kept
    assert tier.aborted.wait(5)
    assert completion.truncated
    assert completion.text == "word word word"
    assert [a.outcome for a in completion.attempts] == [Outcome.TRUNCATED]
    assert router.breakers[Tier.GOLD].state.value == "closed"
