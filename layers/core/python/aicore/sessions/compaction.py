"""The warm tier's upkeep: a rolling summary from the silver tier, older messages into chunks.

An append that takes the hot part past the policy's threshold asks for it with an event
(`CompactionTrigger`), so it never runs in a player's turn; the summarizer function then calls
`compact`. The summary always covers exactly the messages that leave the hot part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Protocol

from pydantic import BaseModel

from aicore.clock import Clock, now, stamp
from aicore.errors import Conflict
from aicore.events import EventPublisher
from aicore.llm.endpoint import ChatCall, ModelEndpoint, TierTarget
from aicore.llm.wire import ChatMessage
from aicore.observability import logger
from aicore.sessions.chunks import Chunk, plan_chunks
from aicore.sessions.events import SessionCompactionNeeded
from aicore.sessions.models import Message, SessionHead
from aicore.sessions.policy import SessionPolicy
from aicore.topology import SESSION_COMPACTION_NEEDED, SESSIONS_SOURCE

CHARS_PER_TOKEN = 4
SUMMARY_TEMPERATURE = 0.2
SUMMARY_INSTRUCTIONS = (
    "You keep the running summary of a conversation in a game. Rewrite the summary so it also covers "
    "the new lines: who is talking, what was asked, promised, agreed or revealed, names and places. "
    "Plain prose, at most a short paragraph, no preamble."
)


class CompactionStore(Protocol):
    def get_head(self, session_id: str) -> SessionHead: ...
    def hot_messages(self, session_id: str, after_seq: int, through_seq: int) -> list[Message]: ...
    def lease_compaction(self, head: SessionHead, until: str, now: str) -> bool: ...
    def release_compaction(self, head: SessionHead, until: str) -> None: ...
    def commit_compaction(
        self, head: SessionHead, chunks: Sequence[Chunk], summary: str, summary_through: int
    ) -> SessionHead: ...


class Summarizer(Protocol):
    def summarize(self, previous: str, messages: Sequence[Message], max_tokens: int) -> str: ...


class Compacted(BaseModel):
    session_id: str
    compacted: bool
    chunks: int = 0
    messages: int = 0
    compacted_through: int
    summary_through: int


def summary_prompt(previous: str, messages: Sequence[Message], input_tokens: int) -> list[ChatMessage]:
    """The previous summary, and the newest new lines that fit `input_tokens` (the older ones fall out)."""
    budget = input_tokens * CHARS_PER_TOKEN - len(previous)
    lines: list[str] = []
    for message in reversed(messages):
        line = f"{message.speaker.id} ({message.speaker.kind.value}): {message.text}"
        if len(line) > budget:
            break
        lines.append(line)
        budget -= len(line) + 1
    body = f"Summary so far:\n{previous or '(nothing yet)'}\n\nNew lines:\n" + "\n".join(reversed(lines))
    return [ChatMessage(role="system", content=SUMMARY_INSTRUCTIONS), ChatMessage(role="user", content=body)]


class ModelSummarizer:
    """`Summarizer` over a hosted model (the silver tier): one non-streamed chat call."""

    def __init__(
        self, endpoint: ModelEndpoint, target: TierTarget, input_tokens: int, timeout_s: float
    ) -> None:
        self._endpoint, self._target, self._input_tokens = endpoint, target, input_tokens
        self._timeout_s = timeout_s

    def summarize(self, previous: str, messages: Sequence[Message], max_tokens: int) -> str:
        result = self._endpoint.chat(
            ChatCall(
                self._target,
                summary_prompt(previous, messages, self._input_tokens),
                max_tokens=max_tokens,
                temperature=SUMMARY_TEMPERATURE,
                timeout_s=self._timeout_s,
            )
        )
        return result.text.strip() or previous


def compact(
    store: CompactionStore,
    summarizer: Summarizer,
    policy: SessionPolicy,
    session_id: str,
    clock: Clock = now,
) -> Compacted:
    """Summarize and chunk all but the newest `policy.hot_keep` hot messages, in whole chunks.

    Safe to repeat and to race: a lease keeps a second delivery of the event from paying for a
    second summary while the first is being written, and the commit is conditional on nobody
    having compacted since the head was read; the loser changes nothing.
    """
    head = store.get_head(session_id)
    unchanged = Compacted(
        session_id=session_id,
        compacted=False,
        compacted_through=head.compacted_through,
        summary_through=head.summary_through,
    )
    if not head.is_live or head.hot_count < policy.compaction_threshold:
        return unchanged
    candidates = store.hot_messages(session_id, head.compacted_through, head.message_count - policy.hot_keep)
    chunks = plan_chunks(candidates, policy.chunk_messages)
    if not chunks:
        return unchanged
    moment = clock()
    lease = stamp(moment + timedelta(seconds=policy.compaction_lease_s))
    if not store.lease_compaction(head, lease, stamp(moment)):
        logger.info("Compaction already under way", extra={"session_id": session_id})
        return unchanged
    leaving = [m for chunk in chunks for m in chunk.messages]
    try:
        summary = summarizer.summarize(head.summary, leaving, policy.summary_max_tokens)
    except Exception:
        store.release_compaction(head, lease)  # so the event's retry can try again at once
        raise
    try:
        committed = store.commit_compaction(head, chunks, summary, chunks[-1].last_seq)
    except Conflict:
        logger.info("Session compacted or archived meanwhile", extra={"session_id": session_id})
        return unchanged
    logger.info(
        "Session compacted",
        extra={
            "session_id": session_id,
            "chunks": len(chunks),
            "compacted_through": committed.compacted_through,
        },
    )
    return Compacted(
        session_id=session_id,
        compacted=True,
        chunks=len(chunks),
        messages=len(leaving),
        compacted_through=committed.compacted_through,
        summary_through=committed.summary_through,
    )


class CompactionTrigger:
    """An `AppendObserver`: asks for compaction when an append takes the hot part past the threshold.

    A lost event is not lost work: the next chunk's worth of appends asks again. The publisher
    is made on first use: most appends never need it.
    """

    def __init__(self, events: Callable[[], EventPublisher], policy: SessionPolicy) -> None:
        self._events, self._policy = events, policy

    def appended(self, head: SessionHead, messages: list[Message]) -> None:
        hot_after = head.hot_count
        if not self._policy.compaction_due(hot_after - len(messages), hot_after):
            return
        detail = SessionCompactionNeeded(
            world_id=head.world_id,
            correlation_id=messages[-1].correlation_id or head.session_id,
            session_id=head.session_id,
            message_count=head.message_count,
            hot_count=hot_after,
        )
        try:
            self._events().publish(SESSIONS_SOURCE, SESSION_COMPACTION_NEEDED, detail)
        except Exception:
            logger.exception("Could not ask for compaction", extra={"session_id": head.session_id})
