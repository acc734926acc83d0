"""The webhook: verify, claim once, grant or revoke, publish; and a player's entitlements.

Which provider events count (Stripe):
- `checkout.session.completed` with `payment_status: "paid"`, and
  `checkout.session.async_payment_succeeded`: grant. The game creates the Checkout Session with
  `client_reference_id` = the player's id and `metadata.price_id` (and optionally
  `metadata.world_id`); the purchase is its `payment_intent`.
- `charge.refunded` with `refunded: true` (a full refund): revoke the purchase of its
  `payment_intent`. A partial refund changes nothing.
Everything else is acknowledged and ignored. A refund that arrives before its purchase is recorded,
so the purchase's later grant does not take.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from pydantic import ValidationError

from aicore.clock import Clock, now
from aicore.commerce import signature
from aicore.commerce.catalog import Catalog
from aicore.commerce.models import (
    Charge,
    CheckoutSession,
    Claim,
    Entitlement,
    EntitlementChanged,
    Entitlements,
    ProviderEvent,
    Purchase,
    PurchaseStatus,
    WebhookAnswer,
)
from aicore.commerce.store import EventAlreadyClaimed, ModeSettings, PaymentsStore
from aicore.errors import InvalidRequest
from aicore.events import EventPublisher
from aicore.inputs import parse_json
from aicore.observability import logger
from aicore.performance import modes_unlocked_by
from aicore.topology import COMMERCE_SOURCE, ENTITLEMENT_GRANTED, ENTITLEMENT_REVOKED

MAX_BODY_BYTES = 256 * 1024  # Stripe's events are a few KB
# A claim whose events are still unpublished after this long was left by a delivery that failed
# after its write: the next delivery of the event publishes them. Younger: that delivery is at it.
PUBLISH_LEASE = timedelta(seconds=60)
GRANTING = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
REFUND = "charge.refunded"
REFUND_RETRIES = 3
M = TypeVar("M", CheckoutSession, Charge)


@dataclass
class PaymentsDeps:
    store: PaymentsStore
    events: EventPublisher
    modes: ModeSettings
    catalog: Catalog
    secrets: Callable[[], Sequence[str]]  # the signing secrets in force (several while one rolls)
    worlds: Sequence[str]  # where a player may hold a mode an entitlement unlocked
    tolerance_s: int = 300
    clock: Clock = field(default=now)


def receive(deps: PaymentsDeps, body: bytes, signature_header: str | None) -> WebhookAnswer:
    """One delivery: verified, applied at most once, its events published."""
    signature.verify(body, signature_header, deps.secrets(), deps.clock(), deps.tolerance_s)
    event = _parse(body)
    earlier = deps.store.claimed(event.id)
    if earlier is not None:
        return _duplicate(deps, earlier)
    try:
        claim = _apply(deps, event)
    except EventAlreadyClaimed:
        found = deps.store.claimed(event.id)
        assert found is not None, "a claimed event has its claim"
        return _duplicate(deps, found)
    _finish(deps, claim)
    return claim.answer


def entitlements(deps_store: PaymentsStore, catalog: Catalog, player_id: str) -> Entitlements:
    held = [
        Entitlement(
            entitlement=p.entitlement,
            description=catalog.entitlements.get(p.entitlement, ""),
            purchase_id=p.purchase_id,
            granted_at=p.granted_at,
            unlocks_modes=[m.value for m in modes_unlocked_by(p.entitlement)],
        )
        for p in deps_store.active_purchases(player_id)
        if p.entitlement is not None
    ]
    return Entitlements(player_id=player_id, entitlements=sorted(held, key=lambda e: e.entitlement))


def _parse(body: bytes) -> ProviderEvent:
    raw = parse_json(body, what="The event", max_bytes=MAX_BODY_BYTES)
    try:
        return ProviderEvent.model_validate(raw)
    except ValidationError:
        raise InvalidRequest(
            "The body is not a provider event (id evt_..., type, created, data.object)."
        ) from None


def _apply(deps: PaymentsDeps, event: ProviderEvent) -> Claim:
    if event.type in GRANTING:
        return _grant(deps, event, _model(CheckoutSession, event))
    if event.type == REFUND:
        return _refund(deps, event, _model(Charge, event))
    return _record(deps, event, _answer(event, "ignored", reason="not an event that grants or revokes"))


def _model(model: type[M], event: ProviderEvent) -> M:
    try:
        return model.model_validate(event.data.object)
    except ValidationError:
        raise InvalidRequest(f"The {event.type} event's data.object is not what that type carries.") from None


def _grant(deps: PaymentsDeps, event: ProviderEvent, session: CheckoutSession) -> Claim:
    price_id = session.metadata.get("price_id", "")
    entitlement = deps.catalog.entitlement_for(price_id)
    reason = _why_not_granting(session, entitlement)
    if reason is not None:
        logger.warning("payment event grants nothing", extra={"event_id": event.id, "reason": reason})
        return _record(deps, event, _answer(event, "ignored", reason=reason))
    assert entitlement is not None
    assert session.payment_intent
    assert session.client_reference_id
    at = deps.clock()
    world_id = session.metadata.get("world_id") or deps.worlds[0]
    purchase = Purchase(
        purchase_id=session.payment_intent,
        status=PurchaseStatus.ACTIVE,
        player_id=session.client_reference_id,
        world_id=world_id,
        entitlement=entitlement,
        price_id=price_id,
        granted_at=at,
    )
    granted = _claim(
        event, _answer(event, "granted", entitlement), at, ENTITLEMENT_GRANTED, purchase, "purchase"
    )
    if deps.store.grant(granted, purchase):
        return granted
    found = deps.store.purchase(purchase.purchase_id)
    outcome = (
        "refunded_before_grant" if found and found.status == PurchaseStatus.REFUNDED else "already_granted"
    )
    return _record(deps, event, _answer(event, outcome, entitlement))


def _why_not_granting(session: CheckoutSession, entitlement: str | None) -> str | None:
    if session.payment_status != "paid":
        return "not paid yet (checkout.session.async_payment_succeeded grants it when it is)"
    if session.payment_intent is None:
        return "no payment_intent (subscriptions are not sold here)"
    if session.client_reference_id is None:
        return "no client_reference_id (the player's id)"
    if entitlement is None:
        return "metadata.price_id names no price of the catalog"
    return None


def _refund(deps: PaymentsDeps, event: ProviderEvent, charge: Charge) -> Claim:
    if not charge.refunded:
        return _record(deps, event, _answer(event, "ignored", reason="a partial refund: the purchase stands"))
    if charge.payment_intent is None:
        return _record(deps, event, _answer(event, "ignored", reason="no payment_intent"))
    for _ in range(REFUND_RETRIES):  # each turn lost a race with the purchase's own events
        at = deps.clock()
        found = deps.store.purchase(charge.payment_intent)
        if found is None:
            tombstone = Purchase(
                purchase_id=charge.payment_intent, status=PurchaseStatus.REFUNDED, refunded_at=at
            )
            claim = Claim(event_id=event.id, answer=_answer(event, "recorded_refund"), claimed_at=at)
            if deps.store.record_refund_first(claim, tombstone):
                return claim
        elif found.status == PurchaseStatus.ACTIVE:
            refunded = found.model_copy(update={"status": PurchaseStatus.REFUNDED, "refunded_at": at})
            answer = _answer(event, "revoked", found.entitlement)
            claim = _claim(event, answer, at, ENTITLEMENT_REVOKED, found, "refund")
            if deps.store.revoke(claim, refunded):
                return claim
        else:
            return _record(deps, event, _answer(event, "already_revoked", found.entitlement))
    raise EventAlreadyClaimed(event.id)  # pragma: no cover - three lost races in a row


def _answer(
    event: ProviderEvent, outcome: str, entitlement: str | None = None, reason: str | None = None
) -> WebhookAnswer:
    return WebhookAnswer.model_validate(
        {
            "event_id": event.id,
            "type": event.type,
            "outcome": outcome,
            "entitlement": entitlement,
            "reason": reason,
        }
    )


def _claim(
    event: ProviderEvent,
    answer: WebhookAnswer,
    at: datetime,
    detail_type: str,
    purchase: Purchase,
    reason: str,
) -> Claim:
    assert purchase.player_id
    assert purchase.entitlement
    assert purchase.world_id
    detail = EntitlementChanged(
        world_id=purchase.world_id,
        correlation_id=event.id,
        event_id=f"{'grant' if detail_type == ENTITLEMENT_GRANTED else 'revoke'}:{purchase.purchase_id}",
        player_id=purchase.player_id,
        entitlement=purchase.entitlement,
        purchase_id=purchase.purchase_id,
        price_id=purchase.price_id or "",
        provider_event_id=event.id,
        reason=reason,
    )
    return Claim(event_id=event.id, answer=answer, claimed_at=at, pending=[(detail_type, detail)])


def _record(deps: PaymentsDeps, event: ProviderEvent, answer: WebhookAnswer) -> Claim:
    claim = Claim(event_id=event.id, answer=answer, claimed_at=deps.clock())
    deps.store.record_claim(claim)
    return claim


def _duplicate(deps: PaymentsDeps, earlier: Claim) -> WebhookAnswer:
    """The first answer again, marked a duplicate; events a failed first delivery left are published."""
    if earlier.pending and deps.clock() - earlier.claimed_at >= PUBLISH_LEASE:
        _finish(deps, earlier)
    return earlier.answer.model_copy(update={"duplicate": True})


def _finish(deps: PaymentsDeps, claim: Claim) -> None:
    """After the write: a revoked mode is dropped, the events go out, the claim is marked done."""
    if not claim.pending:
        return
    for detail_type, detail in claim.pending:
        if detail_type == ENTITLEMENT_REVOKED:
            _drop_unlocked_modes(deps, detail)
        deps.events.publish(COMMERCE_SOURCE, detail_type, detail)
    deps.store.mark_published(claim.event_id)


def _drop_unlocked_modes(deps: PaymentsDeps, revoked: EntitlementChanged) -> None:
    """A player who no longer holds an entitlement loses the modes it unlocked, in every world."""
    still_held = {p.entitlement for p in deps.store.active_purchases(revoked.player_id)}
    if revoked.entitlement in still_held:
        return
    for mode in modes_unlocked_by(revoked.entitlement):
        for world_id in deps.worlds:
            deps.modes.drop_player_mode(world_id, revoked.player_id, mode.value)
