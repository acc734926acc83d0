"""Signing keys: set up, rotation with overlap, the published document, the verifier's JWKS cache,
the signer's cache, the rotation handler. Time is an injected clock."""

from __future__ import annotations

from typing import Any

import pytest

from aicore.auth import Caller
from aicore.errors import Unauthorized
from aicore.identity.keyring import KeysNotReady, PublishedKeysCache, SignerKeys, rotate_keys, set_up_keys
from aicore.identity.keys import KeySet, KeyState, RotationPolicy, SigningKey
from aicore.identity.tokens import JwksCache, TokenSigner, TokenVerifier
from tests import handlers
from tests.identity_fakes import FakeDirectory, FakeVault, MovingClock

POLICY = RotationPolicy(access_token_ttl_s=900, signer_cache_s=60)
ALICE = Caller(subject="alice", world_id="demo")


def deployed(clock: MovingClock) -> tuple[FakeVault, FakeDirectory]:
    vault, directory = FakeVault(), FakeDirectory()
    set_up_keys(vault, directory, clock)
    return vault, directory


def signer_and_verifier(
    vault: FakeVault, directory: FakeDirectory, clock: MovingClock
) -> tuple[TokenSigner, TokenVerifier, JwksCache]:
    cache = JwksCache(lambda: directory.load().keys, max_age_s=300, min_refresh_s=10, clock=clock)
    signer = TokenSigner(
        SignerKeys(vault, POLICY.signer_cache_s, clock).current, "aicore", "aicore-game", clock
    )
    return signer, TokenVerifier(cache, "aicore", "aicore-game", clock), cache


def test_set_up_makes_a_current_and_a_next_key_and_publishes_both_once() -> None:
    clock = MovingClock()
    vault, directory = deployed(clock)
    states = sorted(k.state for k in vault.keys.keys)
    assert states == [KeyState.CURRENT, KeyState.NEXT]
    assert {k.kid for k in directory.published.keys} == {k.kid for k in vault.keys.keys}
    # a second deploy changes nothing
    before = vault.keys
    set_up_keys(vault, directory, clock)
    assert vault.keys == before


def test_the_first_key_can_be_given_and_the_published_document_holds_no_private_part() -> None:
    development = SigningKey.from_seed("dev")
    vault, directory = FakeVault(), FakeDirectory()
    set_up_keys(vault, directory, MovingClock(), first_key=lambda: development)
    assert vault.keys.current is not None
    assert vault.keys.current.kid == development.kid
    document = directory.published.model_dump_json()
    assert "PRIVATE" not in document
    assert '"d"' not in document


def test_rotation_promotes_next_demotes_current_with_overlap_and_forgets_retired_keys() -> None:
    # Given a set-up key set
    clock = MovingClock()
    vault, directory = deployed(clock)
    first, upcoming = vault.keys.current, vault.keys.in_state(KeyState.NEXT)[0]
    assert first is not None
    # When it rotates
    rotate_keys(vault, directory, POLICY, clock)
    # Then next signs, current is previous until the overlap (ttl + signer cache) and a new next exists
    assert vault.keys.current is not None
    assert vault.keys.current.kid == upcoming.kid
    (previous,) = vault.keys.in_state(KeyState.PREVIOUS)
    assert previous.kid == first.kid
    assert previous.retire_after == clock() + POLICY.overlap
    assert len(vault.keys.in_state(KeyState.NEXT)) == 1
    # And a week later the next rotation forgets the retired key
    clock.advance(7 * 24 * 3600)
    rotate_keys(vault, directory, POLICY, clock)
    assert first.kid not in {k.kid for k in vault.keys.keys}
    assert first.kid not in {k.kid for k in directory.published.keys}


def test_tokens_of_the_old_key_verify_until_they_expire_and_the_old_key_until_it_retires() -> None:
    # Given a token signed just before a rotation
    clock = MovingClock()
    vault, directory = deployed(clock)
    signer, verifier, _ = signer_and_verifier(vault, directory, clock)
    old = signer.issue(ALICE, ttl_s=900)
    rotate_keys(vault, directory, POLICY, clock)
    # Then it still verifies after the rotation, and new tokens come from the new key once the
    # signer's cache has aged
    assert verifier.verify(old.token) == ALICE
    clock.advance(POLICY.signer_cache_s)
    new = signer.issue(ALICE, ttl_s=900)
    assert new.kid != old.kid
    assert verifier.verify(new.token) == ALICE
    # When the old token's own expiry passes, it is refused
    clock.advance(900 - POLICY.signer_cache_s)
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(old.token)
    # And a token the old key signed late (by a stale signer) dies with the key at retire_after
    late = TokenSigner(lambda: vault_key(vault, old.kid), "aicore", "aicore-game", clock).issue(ALICE, 900)
    assert verifier.verify(late.token) == ALICE
    clock.advance(POLICY.signer_cache_s)
    with pytest.raises(Unauthorized, match="not trusted"):
        verifier.verify(late.token)
    assert old.kid not in str(PublishedKeysCache(directory, 0, clock).jwks())


def vault_key(vault: FakeVault, kid: str) -> SigningKey:
    return next(k for k in vault.keys.keys if k.kid == kid).signing_key()


def test_a_rotation_reaches_a_warm_verifier_through_one_bounded_refresh() -> None:
    # Given a verifier whose cache is warm
    clock = MovingClock()
    vault, directory = deployed(clock)
    signer, verifier, cache = signer_and_verifier(vault, directory, clock)
    verifier.verify(signer.issue(ALICE).token)
    assert cache.fetches == 1
    # When the keys rotate (twice: the new current was never seen as next by this cache) and
    # the signer signs with the new key
    rotate_keys(vault, directory, POLICY, clock)
    clock.advance(POLICY.signer_cache_s)
    rotate_keys(vault, directory, POLICY, clock)
    clock.advance(POLICY.signer_cache_s)
    token = signer.issue(ALICE).token
    # Then the unknown kid makes the verifier read the keys once, and it verifies
    assert verifier.verify(token) == ALICE
    assert cache.fetches == 2
    # And a flood of made-up kids costs no more reads within the refresh interval
    for _ in range(100):
        with pytest.raises(Unauthorized):
            verifier.verify(
                TokenSigner(SigningKey.generate, "aicore", "aicore-game", clock).issue(ALICE).token
            )
    assert cache.fetches == 2
    clock.advance(10)
    with pytest.raises(Unauthorized):
        verifier.verify(TokenSigner(SigningKey.generate, "aicore", "aicore-game", clock).issue(ALICE).token)
    assert cache.fetches == 3
    # And a cached kid needs no read at all until the cache's age runs out
    for _ in range(10):
        verifier.verify(token)
    assert cache.fetches == 3


def test_a_signer_without_keys_says_so() -> None:
    with pytest.raises(KeysNotReady):
        SignerKeys(FakeVault(), 60, MovingClock()).current()


def test_a_bootstrap_secret_reads_as_an_empty_key_set() -> None:
    assert KeySet.model_validate({"keys": [], "bootstrap": "x" * 32}) == KeySet()


def cloudformation(request_type: str) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "RequestId": f"r-{request_type}",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/aicore-dev/1",
        "LogicalResourceId": "signingkeyssetup",
        "ResponseURL": "https://cloudformation-custom-resource-response.example/signed",
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:aicore-dev-identity-keys:live",
        "ResourceType": "Custom::SigningKeys",
        "ResourceProperties": {},
    }


def test_the_handler_sets_up_at_deploy_and_rotates_on_schedule() -> None:
    # Given the rotation function, as CloudFormation and the schedule call it (answers captured)
    vault, directory = FakeVault(), FakeDirectory()
    sent: list[dict[str, Any]] = []

    def respond(event: dict[str, Any], physical_id: str, **outcome: Any) -> dict[str, Any]:
        sent.append({"request": event["RequestType"], "id": physical_id, **outcome})
        return sent[-1]

    def call(event: dict[str, Any]) -> Any:
        return handlers.invoke(
            "identity-keys", event, vault=vault, directory=directory, policy=POLICY, respond=respond
        )

    # When the deploy creates the custom resource, the schedule fires, and the stack goes
    call(cloudformation("Create"))
    first = vault.keys.current
    rotated = call({"schedule": "signing-key-rotation", "environment": "dev"})
    call(cloudformation("Delete"))
    # Then CloudFormation heard of each, and the schedule rotated
    assert first is not None
    assert [(s["request"], s.get("data")) for s in sent] == [
        ("Create", {"CurrentKid": first.kid}),
        ("Delete", {}),
    ]
    assert rotated["current_kid"] != first.kid
    assert len(vault.keys.keys) == 3


def test_a_failed_set_up_is_reported_to_cloudformation_without_a_trace() -> None:
    class BrokenVault(FakeVault):
        def load(self) -> KeySet:
            raise ConnectionError("secret unreachable: internal detail")

    sent: list[dict[str, Any]] = []

    def respond(event: dict[str, Any], physical_id: str, **outcome: Any) -> dict[str, Any]:
        sent.append(outcome)
        return outcome

    handlers.invoke(
        "identity-keys",
        cloudformation("Update"),
        vault=BrokenVault(),
        directory=FakeDirectory(),
        respond=respond,
    )
    assert sent == [{"failure": "The signing key set-up failed (ConnectionError)."}]
