"""Commerce: a payment provider's signed webhook (Stripe's format) grants and revokes entitlements."""
