"""The warm tier's format: older messages in compressed chunks, and pages read across both tiers.

A chunk is consecutive messages (oldest first) as compact JSON, zlib-compressed; its item key is
`CHUNK#<first seq>`. Encoding is deterministic, so the same messages always give the same bytes.
"""

from __future__ import annotations

import json
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aicore.sessions.models import Message

ENCODING = "zlib+json"
# DynamoDB items hold at most 400 KB: a chunk's JSON stays well under it before compression.
MAX_CHUNK_JSON_BYTES = 300_000
COMPRESSION_LEVEL = 6


@dataclass(frozen=True)
class Chunk:
    first_seq: int
    last_seq: int
    messages: tuple[Message, ...]

    def encode(self) -> bytes:
        return encode_messages(self.messages)


def encode_messages(messages: Iterable[Message]) -> bytes:
    payload = [m.model_dump(mode="json") for m in messages]
    return zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), COMPRESSION_LEVEL)


def decode_messages(data: bytes) -> list[Message]:
    return [Message.model_validate(m) for m in json.loads(zlib.decompress(data))]


def plan_chunks(
    messages: Sequence[Message], chunk_messages: int, max_json_bytes: int = MAX_CHUNK_JSON_BYTES
) -> list[Chunk]:
    """Full chunks of the oldest messages; a last, partial group is left out (it stays hot).

    A chunk closes at `chunk_messages` messages, or earlier when its JSON would pass the byte cap.
    """
    chunks: list[Chunk] = []
    group: list[Message] = []
    size = 0
    for message in messages:
        cost = len(message.model_dump_json()) + 1
        if group and size + cost > max_json_bytes:
            chunks.append(_chunk(group))
            group, size = [], 0
        group.append(message)
        size += cost
        if len(group) == chunk_messages:
            chunks.append(_chunk(group))
            group, size = [], 0
    return chunks


def chunks_from_layout(messages: Sequence[Message], bounds: Sequence[tuple[int, int]]) -> list[Chunk]:
    """Rebuild chunks exactly as they were: `bounds` are each chunk's (first seq, last seq).

    Linear in the session's size: one pass to order the messages, then each chunk is a slice
    found by binary search (a 100,000-message session has ~1,000 chunks).
    """
    ordered = sorted(messages, key=lambda m: m.seq)
    seqs = [m.seq for m in ordered]
    chunks = []
    for first, last in bounds:
        group = ordered[bisect_left(seqs, first) : bisect_right(seqs, last)]
        if group:
            chunks.append(_chunk(group))
    return chunks


def _chunk(group: Sequence[Message]) -> Chunk:
    return Chunk(group[0].seq, group[-1].seq, tuple(group))


def newest_before(sources: Iterable[Iterable[Message]], before: int, limit: int) -> list[Message]:
    """The `limit` newest messages with seq < `before` among all sources, oldest first.

    Sources may overlap (a message caught both in a chunk and as its not-yet-deleted hot item):
    each seq counts once.
    """
    by_seq = {m.seq: m for source in sources for m in source if m.seq < before}
    return [by_seq[seq] for seq in sorted(by_seq)[-limit:]] if limit > 0 else []


def next_before(page: Sequence[Message]) -> int | None:
    """The cursor of the page before `page`: None when `page` reached the first message."""
    if not page or page[0].seq <= 1:
        return None
    return page[0].seq
