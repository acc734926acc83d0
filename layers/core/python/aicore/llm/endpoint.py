"""What aicore needs of a hosted chat model: where it is served, one call, and its answer.

The interface only (no AWS client is imported here); `aicore.aws.sagemaker_runtime` implements it over
SageMaker Runtime, tests and benches with fakes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from aicore.llm.wire import ChatMessage, Usage


@dataclass(frozen=True)
class ChatResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None = None


LENGTH = "length"  # the finish reason of an answer cut at `max_tokens`


@dataclass(frozen=True)
class Finish:
    """Why the model stopped, as the endpoint says: `stop` (it finished) or `length` (`max_tokens`)."""

    reason: str


class ChatStream(Iterator[str]):
    """The text deltas of a streamed answer; `usage` holds the token counts once the endpoint sent them.

    Iterating yields only text. A `Usage` in the underlying stream (the last chunk, when the
    request asked for it) is kept in `usage`, and a `Finish` in `finish_reason`, instead of
    being yielded.
    """

    def __init__(
        self, items: Iterator[str | Usage | Finish], abort: Callable[[], None] | None = None
    ) -> None:
        self._items = items
        self._abort = abort
        self.usage: Usage | None = None
        self.finish_reason: str | None = None

    def __next__(self) -> str:
        while True:
            item = next(self._items)
            if isinstance(item, Usage):
                self.usage = item
                continue
            if isinstance(item, Finish):
                self.finish_reason = item.reason
                continue
            return item

    def close(self) -> None:
        """Stops reading: the connection is released even when the answer is not finished."""
        close = getattr(self._items, "close", None)
        if close is not None:
            close()

    def abort(self) -> None:
        """From another thread, while a read may be blocked: drop the connection now, so the model
        stops generating for nobody (the endpoint sees the client go) and the blocked read ends."""
        if self._abort is not None:
            self._abort()


@dataclass(frozen=True)
class TierTarget:
    """Where a model is served: its endpoint and, on an endpoint with inference components, its component."""

    endpoint: str
    component: str | None = None


@dataclass(frozen=True)
class ChatCall:
    """One call to a hosted chat model: where, what, how much, and how long to wait for it.

    `timeout_s` is the longest wait for the endpoint to send anything: the whole answer of
    `chat`, the first or the next token of `stream_chat`.
    """

    target: TierTarget
    messages: Sequence[ChatMessage]
    max_tokens: int
    temperature: float = 0.7
    timeout_s: float = 60.0
    # When the caller stops waiting for the first token (unix seconds): a server that queues may
    # drop the request rather than start it late (sent as the `deadline_ms` custom attribute).
    # Unset: `timeout_s` from now, so nobody's abandoned call keeps the model busy.
    deadline: float | None = None

    def __post_init__(self) -> None:
        if self.deadline is None:
            object.__setattr__(self, "deadline", time.time() + self.timeout_s)


class ModelEndpoint(Protocol):
    """A hosted chat model. Every failure is an `aicore.errors.ModelUnavailable`."""

    def stream_chat(self, call: ChatCall) -> ChatStream:
        """Text deltas of the answer, each as soon as it arrives."""
        ...

    def chat(self, call: ChatCall) -> ChatResult:
        """The whole answer at once, with its token counts."""
        ...
