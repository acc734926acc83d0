"""Payments over fakes: a store with the DynamoDB adapter's promises, signed provider events."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aicore.commerce.catalog import load_catalog
from aicore.commerce.models import Claim, Purchase, PurchaseStatus
from aicore.commerce.service import PaymentsDeps
from aicore.commerce.signature import signature_header
from aicore.commerce.store import EventAlreadyClaimed
from tests.fakes import FakePublisher

SECRET = "whsec_test_0123456789abcdef"
PLAYER = "player-7"


@dataclass
class FakePaymentsStore:
    claims: dict[str, tuple[Claim, bool]] = field(default_factory=dict)  # event id -> (claim, published)
    purchases: dict[str, Purchase] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def claimed(self, event_id: str) -> Claim | None:
        found = self.claims.get(event_id)
        if found is None:
            return None
        claim, published = found
        return claim.model_copy(update={"pending": []}) if published else claim

    def purchase(self, purchase_id: str) -> Purchase | None:
        return self.purchases.get(purchase_id)

    def grant(self, claim: Claim, purchase: Purchase) -> bool:
        return self._write(claim, purchase, lambda found: found is None)

    def revoke(self, claim: Claim, purchase: Purchase) -> bool:
        return self._write(claim, purchase, lambda found: found is not None and found.status == "active")

    def record_refund_first(self, claim: Claim, purchase: Purchase) -> bool:
        return self._write(claim, purchase, lambda found: found is None)

    def record_claim(self, claim: Claim) -> None:
        with self._lock:
            self._claim(claim)

    def mark_published(self, event_id: str) -> None:
        claim, _ = self.claims[event_id]
        self.claims[event_id] = (claim, True)

    def active_purchases(self, player_id: str) -> list[Purchase]:
        return [
            p
            for p in self.purchases.values()
            if p.player_id == player_id and p.status == PurchaseStatus.ACTIVE
        ]

    def holds(self, player_id: str, entitlement: str) -> bool:
        return any(p.entitlement == entitlement for p in self.active_purchases(player_id))

    def _write(self, claim: Claim, purchase: Purchase, allowed: Any) -> bool:
        with self._lock:
            if claim.event_id in self.claims:
                raise EventAlreadyClaimed(claim.event_id)
            if not allowed(self.purchases.get(purchase.purchase_id)):
                return False
            self._claim(claim)
            self.purchases[purchase.purchase_id] = purchase
            return True

    def _claim(self, claim: Claim) -> None:
        if claim.event_id in self.claims:
            raise EventAlreadyClaimed(claim.event_id)
        self.claims[claim.event_id] = (claim, not claim.pending)


@dataclass
class FakeModes:
    dropped: list[tuple[str, str, str]] = field(default_factory=list)

    def drop_player_mode(self, world_id: str, player_id: str, mode: str) -> None:
        self.dropped.append((world_id, player_id, mode))


@dataclass
class Clock:
    at: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 12, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.at


def payments_deps(
    store: FakePaymentsStore | None = None, clock: Clock | None = None
) -> tuple[PaymentsDeps, FakePublisher, FakeModes]:
    events, modes = FakePublisher(), FakeModes()
    deps = PaymentsDeps(
        store=store or FakePaymentsStore(),
        events=events,
        modes=modes,
        catalog=load_catalog(),
        secrets=lambda: [SECRET],
        worlds=["demo", "frontier"],
        clock=clock or Clock(),
    )
    return deps, events, modes


def checkout_completed(
    event_id: str, purchase: str, player: str = PLAYER, price: str = "price_aicore_premium", **changes: Any
) -> dict[str, Any]:
    session = {
        "id": f"cs_{purchase}",
        "object": "checkout.session",
        "payment_intent": purchase,
        "client_reference_id": player,
        "payment_status": "paid",
        "metadata": {"price_id": price},
    } | changes
    return _event(event_id, "checkout.session.completed", session)


def charge_refunded(event_id: str, purchase: str, refunded: bool = True) -> dict[str, Any]:
    charge = {"id": f"ch_{purchase}", "object": "charge", "payment_intent": purchase, "refunded": refunded}
    return _event(event_id, "charge.refunded", charge)


def _event(event_id: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2025-11-17",
        "created": 1_764_590_400,
        "livemode": False,
        "type": kind,
        "data": {"object": obj},
    }


def signed(event: dict[str, Any], at: datetime, secret: str = SECRET) -> tuple[bytes, str]:
    """The body and its Stripe-Signature header, as the provider sends them."""
    body = json.dumps(event).encode()
    return body, signature_header(body, secret, int(at.timestamp()))
