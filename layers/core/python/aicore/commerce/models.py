"""Entitlements and purchases, the events they raise, and the provider's event shapes we read."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aicore.events import EventDetail

PURCHASE_ID = r"^[A-Za-z0-9_]{1,128}$"
PLAYER_ID = r"^[A-Za-z0-9_.:\-]{1,128}$"
PROVIDER = "stripe"


class PurchaseStatus(StrEnum):
    ACTIVE = "active"  # granted and not refunded: the entitlement is held
    REFUNDED = "refunded"  # refunded (before or after its grant): grants nothing, ever again


class Purchase(BaseModel):
    """One paid purchase (the provider's payment intent) and the entitlement it grants."""

    model_config = ConfigDict(frozen=True)

    purchase_id: str = Field(pattern=PURCHASE_ID)
    status: PurchaseStatus
    # Unknown for a refund that arrived before its purchase (a tombstone).
    player_id: str | None = None
    world_id: str | None = None
    entitlement: str | None = None
    price_id: str | None = None
    granted_at: datetime | None = None
    refunded_at: datetime | None = None


class Entitlement(BaseModel):
    entitlement: str
    description: str
    purchase_id: str
    granted_at: datetime | None
    unlocks_modes: list[str] = []


class Entitlements(BaseModel):
    player_id: str
    entitlements: list[Entitlement]


class EntitlementChanged(EventDetail):
    """`Entitlement Granted` / `Entitlement Revoked` (schemas/events.proto)."""

    event_id: str  # the same however often it is published
    player_id: str
    entitlement: str
    purchase_id: str
    price_id: str
    provider: str = PROVIDER
    provider_event_id: str
    reason: str  # granted: "purchase"; revoked: "refund"


Outcome = Literal[
    "granted",  # the purchase granted its entitlement
    "already_granted",  # another event of the same purchase granted it before
    "refunded_before_grant",  # its refund came first: this purchase grants nothing
    "revoked",  # the refund took the entitlement back
    "recorded_refund",  # a refund of a purchase not seen yet: its grant will not take
    "already_revoked",
    "ignored",  # not an event that grants or revokes (see `reason`)
]


class WebhookAnswer(BaseModel):
    """What the webhook answers the provider (its dashboard shows it)."""

    received: bool = True
    event_id: str
    type: str
    outcome: Outcome
    duplicate: bool = False
    entitlement: str | None = None
    reason: str | None = None


class Claim(BaseModel):
    """A provider event taken once: its answer, and the event it raises until that is published."""

    event_id: str
    answer: WebhookAnswer
    claimed_at: datetime
    pending: list[tuple[str, EntitlementChanged]] = []  # (detail type, detail) to publish


# The provider's shapes: what we read, nothing else (extra fields ignored, ours checked).
class ProviderEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(pattern=r"^evt_[A-Za-z0-9_]{1,120}$")
    type: str = Field(min_length=1, max_length=100)
    created: int = Field(ge=0)
    data: EventData


class EventData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    object: dict[str, Any]


Metadata = dict[str, str]


class CheckoutSession(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(max_length=255)
    payment_intent: str | None = Field(None, pattern=PURCHASE_ID)
    client_reference_id: str | None = Field(None, pattern=PLAYER_ID)
    payment_status: str = Field(max_length=40)
    metadata: Metadata = Field(default_factory=dict, max_length=50)


class Charge(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(max_length=255)
    payment_intent: str | None = Field(None, pattern=PURCHASE_ID)
    refunded: bool = False


ProviderEvent.model_rebuild()
