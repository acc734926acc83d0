"""In-memory stand-ins for the platform's stores, faithful to their conditions (shared by unit tests)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from aicore.platform.limits import Spend, SpendOutcome
from aicore.platform.settings import (
    GLOBAL_SCOPE,
    AuditEntry,
    GlobalSettings,
    StoredSettings,
    TurnBudget,
    TurnLimits,
)


@dataclass
class FakeSettingsStore:
    documents: dict[str, StoredSettings] = field(default_factory=dict)
    entries: dict[str, list[AuditEntry]] = field(default_factory=dict)
    reads: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, scopes: list[str]) -> dict[str, StoredSettings]:
        self.reads += 1
        return {s: self.documents[s] for s in scopes if s in self.documents}

    def write(self, document: StoredSettings, expected_version: int, entry: AuditEntry) -> int | None:
        with self._lock:
            current = self.documents.get(document.scope)
            at = current.version if current else 0
            if at != expected_version:
                return at
            self.documents[document.scope] = document
            self.entries.setdefault(document.scope, []).append(entry)
            return None

    def audit(self, scope: str, limit: int) -> list[AuditEntry]:
        return list(reversed(self.entries.get(scope, [])))[:limit]


def roomy_settings() -> FakeSettingsStore:
    """Global settings whose turn budgets no test of something else runs into."""
    roomy = TurnBudget(per_minute=600, burst=100)
    values = GlobalSettings(limits=TurnLimits(player=roomy, connection=roomy))
    store = FakeSettingsStore()
    store.documents[GLOBAL_SCOPE] = StoredSettings(
        scope=GLOBAL_SCOPE, version=1, values=values.model_dump(mode="json")
    )
    return store


@dataclass
class FakeBudgetStore:
    """One item per key, one TAT per bucket, spent under the same conditions as the UpdateItem."""

    items: dict[str, dict[str, int]] = field(default_factory=dict)
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def spend(self, key: str, spends: Sequence[Spend], now_ms: int, expires_at: int) -> SpendOutcome:
        with self._lock:
            self.calls += 1
            item = self.items.setdefault(key, {})
            for s in spends:
                tat = item.get(s.bucket)
                holds = (
                    (tat is None or tat <= now_ms)
                    if s.idle
                    else (tat is not None and now_ms < tat <= now_ms + s.tolerance_ms - s.interval_ms)
                )
                if not holds:
                    return SpendOutcome(
                        False, {b: t for b, t in item.items() if b in {x.bucket for x in spends}}
                    )
            for s in spends:
                item[s.bucket] = now_ms + s.interval_ms if s.idle else item[s.bucket] + s.interval_ms
            return SpendOutcome(True, {s.bucket: item[s.bucket] for s in spends})
