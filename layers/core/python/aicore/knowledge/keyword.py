"""Keyword search: BM25 over a chunk corpus (`bm25s`: scores precomputed in a sparse matrix, so a
query is a few array sums), English stop words removed, words stemmed (Snowball, `PyStemmer`).

The index is kept as plain arrays (the sparse matrix and the vocabulary), so it travels inside
the knowledge index object and loads without pickle.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import bm25s
    from numpy.typing import NDArray

K1 = 1.5
B = 0.75
METHOD = "lucene"
STOPWORDS = "en"
_ARRAYS = ("data", "indices", "indptr")


@cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


_tokenize_lock = threading.Lock()  # PyStemmer's stemmer objects are not thread-safe


def _tokens(texts: Sequence[str]) -> Any:
    import bm25s

    with _tokenize_lock:
        return bm25s.tokenize(list(texts), stopwords=STOPWORDS, stemmer=_stemmer(), show_progress=False)


def query_terms(text: str) -> list[str]:
    """The stemmed terms of a query, as the index holds them (stop words gone)."""
    import bm25s

    with _tokenize_lock:
        terms = bm25s.tokenize(
            [text], stopwords=STOPWORDS, stemmer=_stemmer(), return_ids=False, show_progress=False
        )
    return [t for t in terms[0] if t]


class KeywordIndex:
    """BM25 scores of every chunk for a query."""

    def __init__(self, retriever: bm25s.BM25) -> None:
        self._retriever = retriever
        self._size = int(retriever.scores["num_docs"])

    @classmethod
    def build(cls, texts: Sequence[str]) -> KeywordIndex:
        import bm25s

        retriever = bm25s.BM25(k1=K1, b=B, method=METHOD)
        retriever.index(_tokens(texts), show_progress=False)
        return cls(retriever)

    def __len__(self) -> int:
        return self._size

    def scores(self, query: str) -> NDArray[np.float32]:
        """One BM25 score per chunk (0 where no query term occurs)."""
        terms = [t for t in query_terms(query) if t in self._retriever.vocab_dict]
        if not terms or self._size == 0:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(terms), dtype=np.float32)

    def ceiling(self, query: str) -> float:
        """The best score this query could get: each of its terms where it scores highest.

        A chunk's score over this is the share of the query it matches as well as any chunk does,
        comparable across queries (a stray match of one word of five is worth a fifth)."""
        terms = [t for t in dict.fromkeys(query_terms(query)) if t in self._retriever.vocab_dict]
        if not terms or self._size == 0:
            return 0.0
        return float(sum(np.max(self._retriever.get_scores([t])) for t in terms))

    def to_arrays(self) -> dict[str, NDArray[Any]]:
        scores = self._retriever.scores
        arrays: dict[str, NDArray[Any]] = {f"bm25_{name}": np.asarray(scores[name]) for name in _ARRAYS}
        vocabulary = json.dumps(self._retriever.vocab_dict, ensure_ascii=False, separators=(",", ":"))
        arrays["bm25_vocabulary"] = np.frombuffer(vocabulary.encode(), dtype=np.uint8)
        arrays["bm25_size"] = np.asarray([self._size], dtype=np.int64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]]) -> KeywordIndex:
        """What `bm25s.BM25.load` does, from arrays instead of a directory of files."""
        import bm25s

        retriever = bm25s.BM25(k1=K1, b=B, method=METHOD)
        retriever.scores = {name: arrays[f"bm25_{name}"] for name in _ARRAYS}
        retriever.scores["num_docs"] = int(arrays["bm25_size"][0])
        retriever.vocab_dict = json.loads(arrays["bm25_vocabulary"].tobytes().decode())
        retriever.unique_token_ids_set = set(retriever.vocab_dict.values())
        retriever.nonoccurrence_array = None  # lucene scoring needs none
        return cls(retriever)
