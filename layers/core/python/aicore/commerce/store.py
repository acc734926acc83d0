"""What the payments logic needs from storage (`aicore.aws.payments_store` in DynamoDB).

Every write that changes a purchase also claims the provider's event id, in one transaction: an
event is applied exactly once, however often (or however concurrently) it is delivered.
"""

from __future__ import annotations

from typing import Protocol

from aicore.commerce.models import Claim, Purchase


class EventAlreadyClaimed(Exception):
    """Another delivery of this provider event was applied first."""


class PaymentsStore(Protocol):
    def claimed(self, event_id: str) -> Claim | None: ...

    def purchase(self, purchase_id: str) -> Purchase | None: ...

    def grant(self, claim: Claim, purchase: Purchase) -> bool:
        """Claim + the new active purchase (and the player's entitlement). False, writing nothing,
        when the purchase is already recorded (granted, or refunded first)."""
        ...

    def revoke(self, claim: Claim, purchase: Purchase) -> bool:
        """Claim + the active purchase refunded (the entitlement gone). False when it is not active now."""
        ...

    def record_refund_first(self, claim: Claim, purchase: Purchase) -> bool:
        """Claim + a refunded purchase never granted (its grant will not take). False when the
        purchase was recorded meanwhile."""
        ...

    def record_claim(self, claim: Claim) -> None:
        """The claim alone (an event that changes nothing)."""
        ...

    def mark_published(self, event_id: str) -> None: ...

    def active_purchases(self, player_id: str) -> list[Purchase]: ...


class ModeSettings(Protocol):
    """A player's performance mode in a world, dropped when the entitlement that unlocked it goes."""

    def drop_player_mode(self, world_id: str, player_id: str, mode: str) -> None: ...
