"""Stripe's webhook signature scheme (`Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`).

The signed message is `"<t>.<raw body>"`, keyed with the endpoint's signing secret (`whsec_...`);
a header may carry several `v1` (while a secret rolls) and other schemes (ignored). Written here
rather than imported from the `stripe` package: its webhook module pulls in the whole SDK and
`requests` (~240 modules, ~0.5 s of cold start, 17 MB of the layer) for one HMAC; the tests check
this against the provider's own code (`stripe.WebhookSignature`) both ways.

Unlike the SDK, the timestamp is checked in both directions (a delivery signed in the future is as
suspect as a stale one) against an injected clock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from datetime import datetime

from aicore.errors import Unauthorized

SCHEME = "v1"
MAX_HEADER_CHARS = 2048
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")


class InvalidSignature(Unauthorized):
    """A delivery whose signature, or signed time, we cannot accept."""


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The hex `v1` signature of a payload at a time (what the provider computes)."""
    message = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """A `Stripe-Signature` header value, as the provider sends it (tests and the smoke test sign with it)."""
    return f"t={timestamp},{SCHEME}={sign(payload, secret, timestamp)}"


def verify(
    payload: bytes, header: str | None, secrets: Sequence[str], now: datetime, tolerance_s: int
) -> int:
    """The signed timestamp, if one `v1` signature matches one secret and the timestamp is within
    `tolerance_s` of `now` (either way); else InvalidSignature, saying which part failed."""
    timestamp, signatures = _parse(header)
    expected = [sign(payload, secret, timestamp) for secret in secrets]
    if not any(hmac.compare_digest(e, s) for e in expected for s in signatures):
        raise InvalidSignature("The Stripe-Signature does not match this body under our signing secret.")
    if abs(now.timestamp() - timestamp) > tolerance_s:
        raise InvalidSignature(
            f"The Stripe-Signature timestamp is more than {tolerance_s} s from our clock: "
            "a delivery is accepted only when fresh (replays are refused).",
            details={"tolerance_s": tolerance_s},
        )
    return timestamp


def _parse(header: str | None) -> tuple[int, list[str]]:
    if not header:
        raise InvalidSignature("The Stripe-Signature header is missing.")
    if len(header) > MAX_HEADER_CHARS:
        raise InvalidSignature("The Stripe-Signature header is too long.")
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise InvalidSignature("The Stripe-Signature header is not a list of key=value pairs.")
        if key == "t":
            timestamps.append(value)
        elif key == SCHEME and _SIGNATURE.fullmatch(value):
            signatures.append(value)
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]):
        raise InvalidSignature("The Stripe-Signature header needs exactly one timestamp, t=<unix seconds>.")
    if not signatures:
        raise InvalidSignature(f"The Stripe-Signature header has no {SCHEME} signature.")
    return int(timestamps[0]), signatures
