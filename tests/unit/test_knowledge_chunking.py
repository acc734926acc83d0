"""Chunking: sections by headings, paragraphs packed within a bound, overlap where a section spills."""

from __future__ import annotations

import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from aicore.knowledge.chunking import ChunkPolicy, chunk_document
from aicore.knowledge.models import DocumentSource, KnowledgeTags

POLICY = ChunkPolicy(max_chars=200, overlap_chars=60)


def _source(text: str, tags: KnowledgeTags | None = None) -> DocumentSource:
    return DocumentSource(
        document_id="doc-1",
        world_id="demo",
        title="Emberfall",
        text=text,
        tags=tags or KnowledgeTags(),
        content_hash="x",
    )


def test_headings_open_sections_and_chunks_carry_their_heading_path() -> None:
    text = "Intro line.\n\n# Town\n\nThe forge.\n\n## Inn\n\nThe goose.\n\n# Lake\n\nThe library."
    chunks = chunk_document(_source(text), POLICY)
    assert [(c.heading, c.text) for c in chunks] == [
        ("", "Intro line."),
        ("Town", "The forge."),
        ("Town > Inn", "The goose."),
        ("Lake", "The library."),
    ]
    assert [c.chunk_id for c in chunks] == ["doc-1:0", "doc-1:1", "doc-1:2", "doc-1:3"]


def test_a_heading_inside_a_code_fence_is_text() -> None:
    text = "# Real\n\n```\n# not a heading\n```\n"
    (chunk,) = chunk_document(_source(text), POLICY)
    assert chunk.heading == "Real"
    assert "# not a heading" in chunk.text


def test_a_long_section_spills_into_bounded_chunks_that_overlap() -> None:
    sentences = [f"Sentence number {n} tells of the forge." for n in range(30)]
    chunks = chunk_document(_source(" ".join(sentences)), POLICY)
    assert len(chunks) > 3
    assert all(len(c.text) <= POLICY.max_chars for c in chunks)
    for before, after in itertools.pairwise(chunks):
        last_sentence = re.split(r"(?<=\.)\s+", before.text)[-1]
        assert after.text.startswith(last_sentence)  # the cut is never the only place a fact lives


def test_tags_travel_with_every_chunk() -> None:
    tags = KnowledgeTags(factions=("Emberfall Townsfolk",))
    chunks = chunk_document(_source("One.\n\nTwo.", tags), POLICY)
    assert {c.tags for c in chunks} == {KnowledgeTags(factions=("emberfall townsfolk",))}


def test_a_document_of_headings_only_has_no_chunks() -> None:
    assert chunk_document(_source("# A\n\n## B\n\n   \n"), POLICY) == []


words = st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=400)
texts = st.lists(
    st.one_of(words, st.sampled_from(["\n\n", "\n", " ", ". ", "\n# Head\n", "\n## Sub\n"])), max_size=60
).map("".join)


@settings(max_examples=150, deadline=None)
@given(texts)
def test_any_text_chunks_within_bounds_and_loses_no_word(text: str) -> None:
    chunks = chunk_document(_source(text), POLICY)
    assert all(0 < len(c.text) <= POLICY.max_chars for c in chunks)
    body = "\n".join(line for line in text.split("\n") if not re.match(r"^#{1,6}\s+\S", line))
    kept = " ".join(c.text for c in chunks)
    for word in body.split():
        if len(word) <= POLICY.max_chars:
            assert word in kept
