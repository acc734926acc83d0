"""Payments over the real local gateway, moto DynamoDB and Secrets Manager: signed deliveries (built
here, no network), 100 concurrent deliveries of one event, a refund that revokes and takes the
premium mode away, a refund that comes before its purchase."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from aicore import wiring
from aicore.commerce.models import PurchaseStatus
from aicore.local.embedded_aws import LOCAL_WEBHOOK_SECRET
from aicore.local.runtime import LocalRuntime, local_token
from tests.clients import http_json
from tests.payments_fakes import charge_refunded, checkout_completed, signed


def deliver(
    runtime: LocalRuntime, event: dict[str, Any], secret: str = LOCAL_WEBHOOK_SECRET
) -> tuple[int, Any]:
    """One delivery, as the provider makes it: the raw body and its Stripe-Signature, no token."""
    body, header = signed(event, datetime.now(UTC), secret)
    request = urllib.request.Request(
        f"http://127.0.0.1:{runtime.options.port}/payments/webhook",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def player() -> tuple[str, str]:
    player_id = f"buyer-{uuid.uuid4().hex[:10]}"
    return player_id, local_token(player_id, "demo")


def url(runtime: LocalRuntime, path: str) -> str:
    return f"http://127.0.0.1:{runtime.options.port}{path}"


def held(runtime: LocalRuntime, token: str) -> list[str]:
    status, body = http_json(url(runtime, "/players/me/entitlements"), token)
    assert status == 200, body
    return [e["purchase_id"] for e in body["data"]["entitlements"]]


def test_100_concurrent_deliveries_of_one_event_grant_once(runtime: LocalRuntime) -> None:
    # Given one signed purchase event, delivered 100 times at once
    player_id, token = player()
    purchase = f"pi_{uuid.uuid4().hex}"
    event = checkout_completed(f"evt_{uuid.uuid4().hex}", purchase, player=player_id)
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: deliver(runtime, event), range(100)))

    # Then every delivery is acknowledged, one applied it and 99 were duplicates
    assert {status for status, _ in answers} == {200}
    assert sorted(body["data"]["duplicate"] for _, body in answers) == [False] + [True] * 99
    assert {body["data"]["outcome"] for _, body in answers} == {"granted"}
    # And the player holds the entitlement once; its event was published once (the claim says so)
    assert held(runtime, token) == [purchase]
    claim = wiring.payments_store().claimed(event["id"])
    assert claim is not None
    assert claim.pending == []


def test_a_refund_revokes_and_takes_the_premium_mode_back(runtime: LocalRuntime) -> None:
    # Given a player who bought premium and chose the premium mode
    player_id, token = player()
    purchase = f"pi_{uuid.uuid4().hex}"
    mode_url = url(runtime, "/worlds/demo/players/me/performance")
    status, refused = http_json(mode_url, token, "PUT", {"mode": "premium"})
    assert (status, refused["error"]["code"]) == (403, "forbidden")
    assert (
        deliver(runtime, checkout_completed(f"evt_{uuid.uuid4().hex}", purchase, player=player_id))[0] == 200
    )
    status, chosen = http_json(mode_url, token, "PUT", {"mode": "premium"})
    assert (status, chosen["data"]["effective"]) == (200, "premium")

    # When the purchase is refunded in full
    status, answer = deliver(runtime, charge_refunded(f"evt_{uuid.uuid4().hex}", purchase))

    # Then the entitlement is gone, and with it the premium mode
    assert (status, answer["data"]["outcome"]) == (200, "revoked")
    assert held(runtime, token) == []
    status, view = http_json(url(runtime, "/worlds/demo/performance"), token)
    assert (view["data"]["player_mode"], view["data"]["effective"]) == (None, "balanced")


def test_a_refund_before_its_purchase_makes_the_grant_not_take(runtime: LocalRuntime) -> None:
    player_id, token = player()
    purchase = f"pi_{uuid.uuid4().hex}"
    status, first = deliver(runtime, charge_refunded(f"evt_{uuid.uuid4().hex}", purchase))
    assert (status, first["data"]["outcome"]) == (200, "recorded_refund")

    status, late = deliver(runtime, checkout_completed(f"evt_{uuid.uuid4().hex}", purchase, player=player_id))

    assert (status, late["data"]["outcome"]) == (200, "refunded_before_grant")
    assert held(runtime, token) == []
    found = wiring.payments_store().purchase(purchase)
    assert found is not None
    assert found.status == PurchaseStatus.REFUNDED


@pytest.mark.parametrize("secret", ["whsec_someone_else"])
def test_a_delivery_signed_with_another_secret_or_stale_is_refused(
    runtime: LocalRuntime, secret: str
) -> None:
    player_id, token = player()
    event = checkout_completed(f"evt_{uuid.uuid4().hex}", f"pi_{uuid.uuid4().hex}", player=player_id)
    status, forged = deliver(runtime, event, secret)
    assert (status, forged["error"]["code"]) == (401, "unauthorized")

    body, header = signed(event, datetime.fromtimestamp(time.time() - 3600, UTC), LOCAL_WEBHOOK_SECRET)
    request = urllib.request.Request(
        url(runtime, "/payments/webhook"), data=body, method="POST", headers={"Stripe-Signature": header}
    )
    with pytest.raises(urllib.error.HTTPError) as stale:
        urllib.request.urlopen(request, timeout=60)
    assert stale.value.code == 401
    assert held(runtime, token) == []
