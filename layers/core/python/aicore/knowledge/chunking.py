"""Documents into chunks: by headings, then paragraphs, within a size bound, with overlap.

Markdown headings (`#` to `######`, outside code fences) open sections; a chunk never spans two
sections, and carries its heading path for context. Paragraphs are packed up to `max_chars`; a
paragraph too long for one chunk is cut at sentence ends (and a sentence too long, at words). Where a
section spills into several chunks, each starts with the last sentences of the one before (up to
`overlap_chars`), so a fact split across the cut is still whole in one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from aicore.knowledge.models import Chunk, DocumentSource

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_BLANK = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class ChunkPolicy:
    max_chars: int = 800
    overlap_chars: int = 160

    def __post_init__(self) -> None:
        if not 100 <= self.max_chars <= 8000:
            raise ValueError("max_chars must be between 100 and 8000")
        if not 0 <= self.overlap_chars <= self.max_chars // 2:
            raise ValueError("overlap_chars must be between 0 and half of max_chars")


@dataclass(frozen=True)
class _Section:
    heading: str
    body: str


def chunk_document(source: DocumentSource, policy: ChunkPolicy | None = None) -> list[Chunk]:
    policy = policy or ChunkPolicy()
    texts = [(s.heading, t) for s in _sections(source.text) for t in _pack(s.body, policy)]
    return [
        Chunk(
            chunk_id=f"{source.document_id}:{n}",
            document_id=source.document_id,
            title=source.title,
            heading=heading,
            text=text,
            tags=source.tags,
        )
        for n, (heading, text) in enumerate(texts)
    ]


def _sections(text: str) -> Iterator[_Section]:
    """Sections with their heading path ("A > B"); text before the first heading has none."""
    path: list[tuple[int, str]] = []
    lines: list[str] = []
    fenced = False
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if heading is None:
            lines.append(line)
            continue
        yield _Section(" > ".join(t for _, t in path), "\n".join(lines))
        level = len(heading.group(1))
        path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, heading.group(2).strip())]
        lines = []
    yield _Section(" > ".join(t for _, t in path), "\n".join(lines))


def _pack(body: str, policy: ChunkPolicy) -> Iterator[str]:
    """Paragraphs packed into chunks of at most `max_chars`, overlapping where a section spills."""
    # A paragraph cut into pieces leaves room in each for the overlap the next chunk starts with.
    cut = policy.max_chars - policy.overlap_chars - 2
    pieces = [
        piece
        for paragraph in _paragraphs(body)
        for piece in ([paragraph] if len(paragraph) <= policy.max_chars else _fit(paragraph, cut))
    ]
    current: list[str] = []
    size = 0
    for piece in pieces:
        if current and size + len(piece) + 2 > policy.max_chars:
            yield "\n\n".join(current)
            current = _overlap(current[-1], policy.overlap_chars, policy.max_chars - len(piece) - 2)
            size = sum(len(c) + 2 for c in current)
        current.append(piece)
        size += len(piece) + 2
    if current:
        yield "\n\n".join(current)


def _paragraphs(body: str) -> list[str]:
    return [" ".join(p.split()) for p in _BLANK.split(body) if p.strip()]


def _fit(paragraph: str, max_chars: int) -> Iterator[str]:
    """A paragraph as pieces of at most `max_chars`: whole sentences where they fit."""
    if len(paragraph) <= max_chars:
        yield paragraph
        return
    piece = ""
    for sentence in _SENTENCE_END.split(paragraph):
        for part in _words_within(sentence, max_chars):
            if piece and len(piece) + 1 + len(part) > max_chars:
                yield piece
                piece = part
            else:
                piece = f"{piece} {part}" if piece else part
    if piece:
        yield piece


def _words_within(sentence: str, max_chars: int) -> Iterator[str]:
    """A sentence longer than `max_chars` cut between words (a word longer than that, anywhere)."""
    if len(sentence) <= max_chars:
        yield sentence
        return
    part = ""
    for word in sentence.split(" "):
        while len(word) > max_chars:
            if part:
                yield part
                part = ""
            yield word[:max_chars]
            word = word[max_chars:]
        if part and len(part) + 1 + len(word) > max_chars:
            yield part
            part = word
        else:
            part = f"{part} {word}" if part else word
    if part:
        yield part


def _overlap(previous: str, overlap_chars: int, room: int) -> list[str]:
    """The last sentences of `previous` within `overlap_chars` (and the room the next piece leaves)."""
    budget = min(overlap_chars, room)
    if budget <= 0:
        return []
    kept: list[str] = []
    for sentence in reversed(_SENTENCE_END.split(previous)):
        if sum(len(s) + 1 for s in kept) + len(sentence) > budget:
            break
        kept.insert(0, sentence)
    return [" ".join(kept)] if kept else []
