"""Payments: the webhook's signature (against Stripe's own library), replay, tamper, stale and
out-of-order deliveries, grants and refunds, events, and the premium mode an entitlement unlocks."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import stripe

from aicore.auth import Caller
from aicore.commerce import signature
from aicore.commerce.models import EntitlementChanged
from aicore.commerce.service import PUBLISH_LEASE, entitlements, receive
from aicore.commerce.signature import InvalidSignature
from aicore.errors import Forbidden, InvalidRequest
from aicore.platform.settings import SettingsDeps
from aicore.topology import COMMERCE_SOURCE, ENTITLEMENT_GRANTED, ENTITLEMENT_REVOKED
from aicore.world.performance import ModeChange, set_player_mode, set_world_mode
from tests.edge_calls import HttpEdge
from tests.fakes import FakeWorld
from tests.payments_fakes import (
    PLAYER,
    SECRET,
    Clock,
    FakePaymentsStore,
    charge_refunded,
    checkout_completed,
    payments_deps,
    signed,
)
from tests.platform_fakes import FakeSettingsStore

# --- the signature, checked against the provider's own code ---------------------------------------


def test_a_header_stripe_s_library_makes_verifies_here_and_ours_verifies_there() -> None:
    clock = Clock()
    body = json.dumps(checkout_completed("evt_1", "pi_1")).encode()
    at = int(clock().timestamp())
    theirs = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET, timestamp=at)

    assert signature.verify(body, theirs, [SECRET], clock(), 300) == at
    ours = signature.signature_header(body, SECRET, at)
    assert ours == theirs
    assert stripe.WebhookSignature.verify_header(body.decode(), ours, SECRET, tolerance=None)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, header: (body.replace(b"pi_1", b"pi_2"), header),  # a changed body
        lambda body, header: (body, header.replace("v1=", "v1=0")[:-1]),  # a changed signature
        lambda body, header: (body, header.replace("t=", "t=1")),  # a changed timestamp
        lambda body, header: (body, header.split(",")[0]),  # no v1
        lambda body, header: (body, "v1=" + "a" * 64),  # no t
        lambda body, header: (body, ""),
        lambda body, header: (body, None),
        lambda body, header: (body, header + ",t=1"),  # two timestamps (Stripe's SDK reads the first)
        lambda body, header: (body, "garbage"),
        lambda body, header: (body, "x" * 5000),
    ],
    ids=["body", "signature", "timestamp", "no-v1", "no-t", "empty", "missing", "two-t", "garbage", "huge"],
)
def test_a_tampered_delivery_is_refused_by_both_and_grants_nothing(
    tamper: object, request: pytest.FixtureRequest
) -> None:
    deps, events, _ = payments_deps()
    body, header = tamper(*signed(checkout_completed("evt_1", "pi_1"), deps.clock()))  # type: ignore[operator]

    with pytest.raises(InvalidSignature):
        receive(deps, body, header)
    assert (deps.store.active_purchases(PLAYER), events.published) == ([], [])
    stricter = request.node.callspec.id == "two-t"  # we refuse an ambiguous header outright
    if header and not stricter:  # the provider's code agrees it is not its signature
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.WebhookSignature.verify_header(body.decode(), header, SECRET, tolerance=None)


def test_another_secret_s_signature_is_refused_and_a_rolled_secret_still_verifies() -> None:
    deps, _, _ = payments_deps()
    body, header = signed(checkout_completed("evt_1", "pi_1"), deps.clock(), secret="whsec_someone_else")
    with pytest.raises(InvalidSignature, match="does not match"):
        receive(deps, body, header)

    deps.secrets = lambda: [SECRET, "whsec_someone_else"]  # while a secret rolls: both
    assert receive(deps, body, header).outcome == "granted"


@pytest.mark.parametrize("age_s", [301, -301, 86_400])
def test_a_stale_or_future_delivery_is_refused(age_s: int) -> None:
    # Given a delivery signed age_s before our (injected) clock
    clock = Clock()
    deps, events, _ = payments_deps(clock=clock)
    body, header = signed(checkout_completed("evt_1", "pi_1"), clock() - timedelta(seconds=age_s))

    with pytest.raises(InvalidSignature, match="300 s") as refused:
        receive(deps, body, header)
    assert refused.value.details == {"tolerance_s": 300}
    assert events.published == []


def test_a_delivery_at_the_edge_of_the_tolerance_is_taken() -> None:
    clock = Clock()
    deps, _, _ = payments_deps(clock=clock)
    body, header = signed(checkout_completed("evt_1", "pi_1"), clock() - timedelta(seconds=300))
    assert receive(deps, body, header).outcome == "granted"


# --- once, however often ---------------------------------------------------------------------------


def test_a_purchase_grants_its_entitlement_once_and_says_so() -> None:
    deps, events, _ = payments_deps()
    body, header = signed(checkout_completed("evt_1", "pi_1"), deps.clock())

    answer = receive(deps, body, header)

    assert (answer.outcome, answer.entitlement, answer.duplicate) == ("granted", "premium", False)
    held = entitlements(deps.store, deps.catalog, PLAYER)
    assert [(e.entitlement, e.purchase_id, e.unlocks_modes) for e in held.entitlements] == [
        ("premium", "pi_1", ["premium"])
    ]
    ((source, kind, detail),) = events.published
    assert (source, kind) == (COMMERCE_SOURCE, ENTITLEMENT_GRANTED)
    assert detail.model_dump(exclude={"occurred_at"}) == {
        "world_id": "demo",
        "correlation_id": "evt_1",
        "schema_version": "1",
        "event_id": "grant:pi_1",
        "player_id": PLAYER,
        "entitlement": "premium",
        "purchase_id": "pi_1",
        "price_id": "price_aicore_premium",
        "provider": "stripe",
        "provider_event_id": "evt_1",
        "reason": "purchase",
    }


def test_a_replayed_event_answers_duplicate_and_grants_nothing_more() -> None:
    # Given a delivered purchase
    deps, events, _ = payments_deps()
    body, header = signed(checkout_completed("evt_1", "pi_1"), deps.clock())
    receive(deps, body, header)

    # When the same delivery comes again (freshly signed, as the provider's retry is)
    again = receive(deps, *signed(checkout_completed("evt_1", "pi_1"), deps.clock()))

    # Then it is answered as before, marked a duplicate, and nothing more is granted or published
    assert (again.outcome, again.duplicate) == ("granted", True)
    assert len(events.published) == 1
    assert len(deps.store.active_purchases(PLAYER)) == 1


def test_another_event_of_the_same_purchase_grants_nothing_more() -> None:
    deps, events, _ = payments_deps()
    receive(deps, *signed(checkout_completed("evt_1", "pi_1"), deps.clock()))
    second = receive(deps, *signed(checkout_completed("evt_2", "pi_1"), deps.clock()))
    assert (second.outcome, second.duplicate) == ("already_granted", False)
    assert len(events.published) == 1


def test_concurrent_deliveries_of_one_event_grant_once() -> None:
    deps, events, _ = payments_deps()
    body, header = signed(checkout_completed("evt_1", "pi_1"), deps.clock())
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: receive(deps, body, header), range(100)))
    assert sorted(a.duplicate for a in answers) == [False] + [True] * 99
    assert {a.outcome for a in answers} == {"granted"}
    assert [kind for _, kind, _ in events.published] == [ENTITLEMENT_GRANTED]


def test_events_a_failed_delivery_left_unpublished_go_out_with_a_later_delivery() -> None:
    # Given a delivery whose publish failed after its write (the provider gets a 500 and retries)
    clock = Clock()
    deps, events, _ = payments_deps(clock=clock)
    failing = deps.events
    deps.events = BrokenPublisher()
    body, header = signed(checkout_completed("evt_1", "pi_1"), clock())
    with pytest.raises(RuntimeError):
        receive(deps, body, header)
    deps.events = failing

    # When it is delivered again within the lease, nothing is published (that delivery may still be at it)
    assert receive(deps, body, header).duplicate
    assert events.published == []
    # Then a delivery after the lease publishes it, once
    clock.at += PUBLISH_LEASE
    for _ in range(2):
        receive(deps, *signed(checkout_completed("evt_1", "pi_1"), clock()))
    assert [kind for _, kind, _ in events.published] == [ENTITLEMENT_GRANTED]


class BrokenPublisher:
    def publish(self, *_: object) -> None:
        raise RuntimeError("EventBridge is down")


# --- refunds, in and out of order -------------------------------------------------------------------


def test_a_refund_revokes_and_drops_the_premium_mode_in_every_world() -> None:
    deps, events, modes = payments_deps()
    receive(deps, *signed(checkout_completed("evt_1", "pi_1"), deps.clock()))

    answer = receive(deps, *signed(charge_refunded("evt_2", "pi_1"), deps.clock()))

    assert (answer.outcome, answer.entitlement) == ("revoked", "premium")
    assert entitlements(deps.store, deps.catalog, PLAYER).entitlements == []
    assert [kind for _, kind, _ in events.published] == [ENTITLEMENT_GRANTED, ENTITLEMENT_REVOKED]
    revoked = events.published[1][2]
    assert isinstance(revoked, EntitlementChanged)
    assert (revoked.event_id, revoked.reason, revoked.provider_event_id) == ("revoke:pi_1", "refund", "evt_2")
    assert modes.dropped == [("demo", PLAYER, "premium"), ("frontier", PLAYER, "premium")]
    # And the refund delivered again changes nothing
    assert receive(deps, *signed(charge_refunded("evt_2", "pi_1"), deps.clock())).duplicate
    assert len(events.published) == 2


def test_a_refund_before_its_purchase_makes_the_later_grant_not_take() -> None:
    # Given the refund of pi_1 delivered before the event of its purchase
    deps, events, _ = payments_deps()
    first = receive(deps, *signed(charge_refunded("evt_2", "pi_1"), deps.clock()))
    assert first.outcome == "recorded_refund"

    # When the purchase's event arrives
    late = receive(deps, *signed(checkout_completed("evt_1", "pi_1"), deps.clock()))

    # Then nothing is granted, nothing published
    assert (late.outcome, late.duplicate) == ("refunded_before_grant", False)
    assert entitlements(deps.store, deps.catalog, PLAYER).entitlements == []
    assert events.published == []


def test_a_second_refund_event_and_a_partial_refund_change_nothing() -> None:
    deps, events, _ = payments_deps()
    receive(deps, *signed(checkout_completed("evt_1", "pi_1"), deps.clock()))
    partial = receive(deps, *signed(charge_refunded("evt_2", "pi_1", refunded=False), deps.clock()))
    assert (partial.outcome, len(deps.store.active_purchases(PLAYER))) == ("ignored", 1)
    receive(deps, *signed(charge_refunded("evt_3", "pi_1"), deps.clock()))
    again = receive(deps, *signed(charge_refunded("evt_4", "pi_1"), deps.clock()))
    assert again.outcome == "already_revoked"
    assert [kind for _, kind, _ in events.published] == [ENTITLEMENT_GRANTED, ENTITLEMENT_REVOKED]


def test_a_refund_keeps_the_mode_while_another_purchase_still_holds_the_entitlement() -> None:
    deps, _, modes = payments_deps()
    receive(deps, *signed(checkout_completed("evt_1", "pi_1"), deps.clock()))
    receive(deps, *signed(checkout_completed("evt_2", "pi_2"), deps.clock()))
    receive(deps, *signed(charge_refunded("evt_3", "pi_1"), deps.clock()))
    assert [e.purchase_id for e in entitlements(deps.store, deps.catalog, PLAYER).entitlements] == ["pi_2"]
    assert modes.dropped == []


# --- what grants nothing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (checkout_completed("evt_1", "pi_1", price="price_unknown"), "names no price"),
        (checkout_completed("evt_1", "pi_1", payment_status="unpaid"), "not paid yet"),
        (checkout_completed("evt_1", "pi_1", client_reference_id=None), "client_reference_id"),
        (checkout_completed("evt_1", "pi_1", payment_intent=None), "no payment_intent"),
        ({**checkout_completed("evt_1", "pi_1"), "type": "customer.created"}, "not an event that grants"),
    ],
    ids=["unknown-price", "unpaid", "no-player", "no-payment", "other-type"],
)
def test_an_event_that_grants_nothing_is_acknowledged_and_says_why(
    event: dict[str, object], reason: str
) -> None:
    deps, events, _ = payments_deps()
    answer = receive(deps, *signed(event, deps.clock()))
    assert answer.outcome == "ignored"
    assert reason in str(answer.reason)
    assert (events.published, deps.store.active_purchases(PLAYER)) == ([], [])


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"id": "evt_1"}', b'{"id": "nope", "type": "x", "created": 1, "data": {"object": {}}}'],
)
def test_a_signed_body_that_is_not_a_provider_event_is_a_bad_request(body: bytes) -> None:
    deps, _, _ = payments_deps()
    header = signature.signature_header(body, SECRET, int(deps.clock().timestamp()))
    with pytest.raises(InvalidRequest):
        receive(deps, body, header)


def test_a_granting_event_whose_object_is_not_a_checkout_session_is_a_bad_request() -> None:
    deps, _, _ = payments_deps()
    event = checkout_completed("evt_1", "pi_1")
    event["data"] = {"object": {"id": "cs_1", "payment_intent": "pi 1!", "payment_status": "paid"}}
    with pytest.raises(InvalidRequest, match=r"checkout\.session\.completed"):
        receive(deps, *signed(event, deps.clock()))


# --- the premium mode ------------------------------------------------------------------------------


def test_the_premium_mode_needs_the_entitlement_and_a_world_cannot_make_it_its_own() -> None:
    store = FakePaymentsStore()
    deps, _, _ = payments_deps(store)
    world, player = FakeWorld(), Caller(subject=PLAYER, world_id="demo")
    settings = SettingsDeps(FakeSettingsStore())
    premium = ModeChange(mode="premium")

    with pytest.raises(Forbidden, match="'premium' entitlement") as refused:
        set_player_mode(world, settings, player, "demo", premium, store)
    assert refused.value.details == {"entitlement": "premium"}

    receive(deps, *signed(checkout_completed("evt_1", "pi_1"), deps.clock()))
    view = set_player_mode(world, settings, player, "demo", premium, store)
    assert (view.effective, view.max_tokens) == ("premium", 320)

    studio = Caller(subject="tools", world_id="demo", roles=("studio",))
    with pytest.raises(InvalidRequest, match="player's own mode"):
        set_world_mode(world, settings, studio, "demo", premium)


# --- through the handlers, as API Gateway calls them -------------------------------------------------


def test_the_webhook_route_answers_in_the_envelope_without_a_token() -> None:
    edge = HttpEdge()
    body, header = signed(checkout_completed("evt_1", "pi_1", player="p1"), edge.payments.clock())

    first = edge.call(
        "POST", "/payments/webhook", body=body, headers={"stripe-signature": header}, caller=None
    )
    again = edge.call(
        "POST", "/payments/webhook", body=body, headers={"stripe-signature": header}, caller=None
    )
    forged = edge.call("POST", "/payments/webhook", body=body + b" ", headers={"stripe-signature": header})

    assert (first.status, first.body["operation"], first.body["data"]["outcome"]) == (
        200,
        "payments.webhook",
        "granted",
    )
    assert (again.status, again.body["data"]["duplicate"]) == (200, True)
    assert (forged.status, forged.body["error"]["code"]) == (401, "unauthorized")
    assert "Stripe-Signature" in forged.body["error"]["message"]


def test_a_player_lists_their_entitlements_and_chooses_premium_only_while_holding_it() -> None:
    # Given a player without entitlements
    edge = HttpEdge()
    refused = edge.call("PUT", "/worlds/demo/players/me/performance", body=b'{"mode": "premium"}')
    assert (refused.status, refused.body["error"]["code"]) == (403, "forbidden")
    assert refused.body["error"]["details"] == {"entitlement": "premium"}
    assert edge.call("GET", "/players/me/entitlements").body["data"] == {
        "player_id": "p1",
        "entitlements": [],
    }

    # When they buy it
    body, header = signed(checkout_completed("evt_1", "pi_1", player="p1"), edge.payments.clock())
    edge.call("POST", "/payments/webhook", body=body, headers={"stripe-signature": header}, caller=None)

    # Then they hold it and may choose the mode
    listed = edge.call("GET", "/players/me/entitlements").body["data"]["entitlements"]
    assert [(e["entitlement"], e["purchase_id"], e["unlocks_modes"]) for e in listed] == [
        ("premium", "pi_1", ["premium"])
    ]
    chosen = edge.call("PUT", "/worlds/demo/players/me/performance", body=b'{"mode": "premium"}')
    assert (chosen.status, chosen.body["data"]["effective"]) == (200, "premium")
