"""Text embeddings: the `Embedder` interface, and the static in-process embedder for cheap paths.

Two real backends share the interface: `StaticEmbedder` (WordLlama's static token embeddings,
averaged: microseconds a text, no network, no model call on a player's path) and the `embed`
tier (a sentence-embedding model on a SageMaker endpoint, `aicore.aws.sagemaker_runtime.
EndpointEmbedder`). Vectors of different embedders live in different spaces: every stored vector
records `Embedder.name`, and a search only ever compares vectors of one embedder.

The static weights ship inside the `wordllama` wheel (its `weights/` and `tokenizers/` folders);
only those files are read, with numpy, safetensors and tokenizers (the package itself is never
imported: its compiled parts are built for x86-64 only). In Lambda the two files sit in a layer of
their own (`make cdk-assets` copies them from the installed wheel; cdk attaches it to the functions
the topology marks `static_embeddings`), found through `AICORE_STATIC_EMBEDDINGS`.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Vectors = NDArray[np.float32]
else:
    Vectors = Any

STATIC_MODEL = "l2_supercat"
STATIC_DIMENSIONS = 256
WEIGHTS_FILE = f"weights/{STATIC_MODEL}_{STATIC_DIMENSIONS}.safetensors"
TOKENIZER_FILE = f"tokenizers/{STATIC_MODEL}_tokenizer_config.json"
STATIC_FILES = (WEIGHTS_FILE, TOKENIZER_FILE)  # all the embedder reads, relative to its directory
LOCATION_VARIABLE = "AICORE_STATIC_EMBEDDINGS"


class Embedder(Protocol):
    """Texts in, unit-length float32 vectors out (one row per text; a blank text is all zeros)."""

    @property
    def name(self) -> str:
        """Which model made the vectors: stored beside each one, so spaces are never mixed."""
        ...

    @property
    def dimensions(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...


def static_weights_directory() -> Path:
    """Where WordLlama's files are: `AICORE_STATIC_EMBEDDINGS`, else the installed `wordllama` package."""
    configured = os.environ.get(LOCATION_VARIABLE)
    if configured:
        return Path(configured)
    return wordllama_package_directory()


def wordllama_package_directory() -> Path:
    """The installed `wordllama` package's folder (found, never imported)."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"No static embedding weights: install the `wordllama` wheel or set {LOCATION_VARIABLE}."
        )
    return Path(next(iter(spec.submodule_search_locations)))


class StaticEmbedder:
    """WordLlama (`l2_supercat`, 256 dimensions): the mean of a text's token embeddings, normalized.

    The weights (16 MB) load on first use, once per process; embedding a sentence then costs tens
    of microseconds on a CPU.
    """

    name = f"static:wordllama-{STATIC_MODEL}-{STATIC_DIMENSIONS}"
    dimensions = STATIC_DIMENSIONS

    def __init__(self, directory: Path | None = None) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Vectors] | None = None

    def embed(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        tokenizer, weights = self._load()
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        stripped = [text.strip() for text in texts]
        for row, encoding in enumerate(tokenizer.encode_batch(stripped, add_special_tokens=False)):
            ids = np.clip(np.asarray(encoding.ids, dtype=np.int64), 0, len(weights) - 1)
            if len(ids):
                vectors[row] = weights[ids].mean(axis=0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: Vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        return unit

    def _load(self) -> tuple[Any, Vectors]:
        with self._lock:
            if self._loaded is None:
                import numpy as np
                from safetensors.numpy import load_file
                from tokenizers import Tokenizer

                directory = self._directory or static_weights_directory()
                tokenizer = Tokenizer.from_file(str(directory / TOKENIZER_FILE))
                tokenizer.no_padding()
                tokenizer.no_truncation()
                (matrix,) = load_file(str(directory / WEIGHTS_FILE)).values()
                self._loaded = (tokenizer, np.ascontiguousarray(matrix, dtype=np.float32))
            return self._loaded
