"""Secrets an operator puts in Secrets Manager (the payment provider's webhook signing secret)."""

from __future__ import annotations

import threading
import time
from typing import Any

from aicore import aws


class CachedSecret:
    """One secret's value, read at most once per `max_age_s` per container (a rolled secret reaches
    every container within it). A value may hold several secrets, one per line or comma-separated,
    while the provider's secret rolls."""

    def __init__(self, secret_id: str, max_age_s: float = 300.0, client: Any | None = None) -> None:
        self._secret_id = secret_id
        self._max_age_s = max_age_s
        self._client = client or aws.secretsmanager_client()
        self._lock = threading.Lock()
        self._value: list[str] = []
        self._read_at = float("-inf")

    def values(self) -> list[str]:
        with self._lock:
            if time.monotonic() - self._read_at >= self._max_age_s:
                raw = str(self._client.get_secret_value(SecretId=self._secret_id)["SecretString"])
                self._value = [v.strip() for v in raw.replace("\n", ",").split(",") if v.strip()]
                self._read_at = time.monotonic()
            return list(self._value)
