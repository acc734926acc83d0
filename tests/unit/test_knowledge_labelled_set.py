"""The labelled lore set keeps its promises: paraphrases share no keyword with their answer."""

from __future__ import annotations

from aicore.knowledge.keyword import query_terms
from tests.knowledge_data import LORE, QUERIES, lore_corpus


def test_the_set_is_large_enough_and_every_answer_exists() -> None:
    assert len(LORE) >= 60
    assert len(QUERIES) >= 25
    assert all(q.answer in LORE for q in QUERIES)
    assert {q.kind for q in QUERIES} == {"paraphrase", "keyword", "trap"}


def test_paraphrases_share_no_keyword_with_their_answer() -> None:
    for query in (q for q in QUERIES if q.kind == "paraphrase"):
        shared = set(query_terms(query.text)) & set(query_terms(LORE[query.answer]))
        assert not shared, (query.text, shared)


def test_traps_share_a_keyword_with_another_passage() -> None:
    for query in (q for q in QUERIES if q.kind == "trap"):
        terms = set(query_terms(query.text))
        others = [k for k, text in LORE.items() if k != query.answer and terms & set(query_terms(text))]
        assert others, query.text


def test_the_corpus_is_deterministic_and_of_the_size_asked() -> None:
    corpus = lore_corpus(200_000)
    assert corpus == lore_corpus(200_000)
    assert 200_000 <= sum(len(text) for _, text in corpus) < 200_000 + 70_000
