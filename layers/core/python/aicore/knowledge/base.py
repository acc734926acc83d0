"""`KnowledgeBase`: hybrid search over a world's index and the global one, within knowledge filters.

Built for the NPC turn: given the pointers the turn already read (and a query vector, if it has
one), a search makes no AWS call while the cached index versions are current. An index is loaded
from S3 once per version per warm container.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from aicore.knowledge.filters import Audience
from aicore.knowledge.fusion import FusionWeights
from aicore.knowledge.index import KnowledgeIndex
from aicore.knowledge.models import ChunkHit, IndexPointer
from aicore.knowledge.store import IndexPointers, KnowledgeObjects, searched_worlds

if TYPE_CHECKING:
    from aicore.llm.embedding import Embedder, Vectors

EmbedderLookup = Callable[[str], "Embedder | None"]  # by `Embedder.name`; None: not available here
MAX_CACHED_WORLDS = 16
DEFAULT_WEIGHTS = FusionWeights()


class KnowledgeBase:
    def __init__(
        self,
        pointers: IndexPointers,
        objects: KnowledgeObjects,
        embedders: EmbedderLookup,
        weights: FusionWeights = DEFAULT_WEIGHTS,
        max_cached_worlds: int = MAX_CACHED_WORLDS,
    ) -> None:
        self._pointers = pointers
        self._objects = objects
        self._embedders = embedders
        self.weights = weights
        self._max_cached = max_cached_worlds
        self._cache: OrderedDict[str, KnowledgeIndex] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # index objects read from S3 (tests and benches count them)

    def pointers(self, world_id: str) -> list[IndexPointer]:
        """The current pointers of `world_id` and the global corpus (one DynamoDB batch read)."""
        return list(self._pointers.current(searched_worlds(world_id)).values())

    def relevant(
        self,
        world_id: str,
        audience: Audience,
        query: str,
        *,
        limit: int = 5,
        pointers: Sequence[IndexPointer] | None = None,
        vectors: Mapping[str, Vectors] | None = None,
        embed_query: bool = True,
    ) -> list[ChunkHit]:
        """The `limit` chunks most relevant to `query` that `audience` may know, best first.

        `pointers`: the index pointers of `world_id` and `global` as the caller read them (None:
        read them now). `vectors`: the query's vectors by embedder name; an index whose embedder
        has none here gets one from that embedder if `embed_query` (a model call for the embed
        tier, microseconds for the static one), else is searched by keywords alone.
        """
        if pointers is None:
            pointers = self.pointers(world_id)
        wanted = set(searched_worlds(world_id))
        query_vectors = dict(vectors or {})
        hits: list[ChunkHit] = []
        for pointer in pointers:
            if pointer.world_id not in wanted:
                continue
            index = self.index(pointer)
            vector = self._query_vector(index.embedder, query, query_vectors, embed_query)
            hits += index.search(query, vector, audience, limit, self.weights)
        hits.sort(key=lambda hit: hit.scores.total, reverse=True)
        return hits[:limit]

    def index(self, pointer: IndexPointer) -> KnowledgeIndex:
        """The index `pointer` names: from this container's cache, else from S3."""
        with self._lock:
            cached = self._cache.get(pointer.world_id)
            if cached is not None and cached.version == pointer.version:
                self._cache.move_to_end(pointer.world_id)
                return cached
        loaded = KnowledgeIndex.from_bytes(self._objects.index(pointer.key))
        with self._lock:
            self.loads += 1
            self._cache[pointer.world_id] = loaded
            self._cache.move_to_end(pointer.world_id)
            while len(self._cache) > self._max_cached:
                self._cache.popitem(last=False)
        return loaded

    def _query_vector(
        self, embedder_name: str, query: str, known: dict[str, Vectors], embed_query: bool
    ) -> Vectors | None:
        if embedder_name in known:
            return known[embedder_name]
        embedder = self._embedders(embedder_name) if embed_query else None
        if embedder is None:
            return None
        known[embedder_name] = embedder.embed([query])[0]
        return known[embedder_name]
