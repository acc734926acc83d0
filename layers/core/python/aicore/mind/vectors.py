"""Stored vectors: float16 bytes (half the size of float32; cosine is unchanged at 3 decimals)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Vector = NDArray[np.float32]
    Vectors = NDArray[np.float32]
else:
    Vector = Any
    Vectors = Any


def to_bytes(vector: Vector) -> bytes:
    return np.asarray(vector, dtype=np.float16).tobytes()


def from_bytes(data: bytes, dimensions: int) -> Vector | None:
    """The unit vector stored in `data`, or None when it holds no vector of `dimensions`."""
    if len(data) != dimensions * 2:
        return None
    vector = np.frombuffer(data, dtype=np.float16).astype(np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else None


def matrix(rows: Sequence[bytes], dimensions: int) -> Vectors:
    """Stored vectors (all of `dimensions`) as unit rows of one float32 matrix, decoded at once."""
    stacked = np.frombuffer(b"".join(rows), dtype=np.float16).reshape(len(rows), dimensions)
    values = stacked.astype(np.float32)
    norms = np.linalg.norm(values, axis=1, keepdims=True)
    unit: Vectors = np.divide(values, norms, out=np.zeros_like(values), where=norms > 0)
    return unit
