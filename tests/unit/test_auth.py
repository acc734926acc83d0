"""Access tokens: ES256, verified by kid against published keys; every forgery is refused.
Time is an injected clock: nothing sleeps."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jwt.algorithms import ECAlgorithm

from aicore.auth import Caller, Role, bearer_token
from aicore.errors import Forbidden, Unauthorized
from aicore.identity.keys import SigningKey, thumbprint
from aicore.identity.tokens import StaticKeys, TokenIssuer, TokenSigner, TokenVerifier
from tests.identity_fakes import MovingClock

KEY = SigningKey.from_seed("unit tests")
ALICE = Caller(subject="alice", world_id="demo")


def issuer(
    clock: MovingClock, key: SigningKey = KEY, iss: str = "aicore", aud: str = "aicore-game"
) -> TokenIssuer:
    return TokenIssuer(key, iss, aud, clock)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], claims: dict[str, Any], sign: Any) -> str:
    """A JWT put together by hand: what an attacker can send, whatever a library would refuse to make."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def es256_by_another_key(data: bytes) -> bytes:
    return ECAlgorithm(ECAlgorithm.SHA256).sign(data, SigningKey.generate().private_key)


def claims_for(clock: MovingClock, **changes: Any) -> dict[str, Any]:
    issued = int(clock().timestamp())
    return {
        "sub": "alice", "world": "demo", "roles": ["admin"], "iss": "aicore", "aud": "aicore-game",
        "iat": issued, "exp": issued + 600, **changes,
    }  # fmt: skip


def test_an_issued_token_verifies_to_the_same_caller_and_names_its_key() -> None:
    clock = MovingClock()
    token = issuer(clock).issue(ALICE, ttl_s=900)
    assert issuer(clock).verify(token) == ALICE
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": KEY.kid, "typ": "JWT"}


def test_a_token_lives_until_its_exp_and_not_a_second_longer() -> None:
    # Given a token of 15 minutes
    clock = MovingClock()
    token = issuer(clock).issue(ALICE, ttl_s=900)
    # When the clock reaches one second before its expiry, it verifies; at its expiry, it does not
    clock.advance(899)
    assert issuer(clock).verify_token(token).expires_at == int(clock().timestamp()) + 1
    clock.advance(1)
    with pytest.raises(Unauthorized, match="expired"):
        issuer(clock).verify(token)


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda c: issuer(c, SigningKey.generate()).issue(ALICE), id="another key (unknown kid)"),
        pytest.param(
            lambda c: handmade(  # our kid, another key's signature
                {"alg": "ES256", "kid": KEY.kid, "typ": "JWT"},
                claims_for(c),
                es256_by_another_key,
            ),
            id="another key under our kid",
        ),
        pytest.param(
            lambda c: handmade({"alg": "none", "kid": KEY.kid}, claims_for(c), lambda _: b""), id="alg none"
        ),
        pytest.param(
            lambda c: handmade({"alg": "none"}, claims_for(c), lambda _: b""), id="alg none, no kid"
        ),
        pytest.param(
            lambda c: handmade(
                {"alg": "HS256", "kid": KEY.kid, "typ": "JWT"},
                claims_for(c),
                lambda data: hmac.new(json.dumps(KEY.public_jwk).encode(), data, hashlib.sha256).digest(),
            ),
            id="HS256 keyed with the public JWK",
        ),
        pytest.param(
            lambda c: handmade(
                {"alg": "HS256", "kid": KEY.kid, "typ": "JWT"},
                claims_for(c),
                lambda data: hmac.new(_public_pem(), data, hashlib.sha256).digest(),
            ),
            id="HS256 keyed with the public PEM",
        ),
        pytest.param(lambda c: issuer(c).issue(ALICE, ttl_s=-1), id="expired"),
        pytest.param(lambda c: issuer(c, aud="another-game").issue(ALICE), id="wrong audience"),
        pytest.param(lambda c: issuer(c, iss="someone-else").issue(ALICE), id="wrong issuer"),
        pytest.param(lambda c: "garbage", id="not a JWT"),
        pytest.param(lambda c: "", id="empty"),
        pytest.param(lambda c: "a" * 9000, id="too long"),
    ],
)
def test_forged_and_stale_tokens_are_refused(forge: Any) -> None:
    clock = MovingClock()
    with pytest.raises(Unauthorized):
        issuer(clock).verify(forge(clock))


def _public_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization

    return KEY.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_claims_that_are_not_ours_are_refused_even_when_well_signed() -> None:
    clock = MovingClock()
    signer = TokenSigner(lambda: KEY, "aicore", "aicore-game", clock)
    verifier = TokenVerifier(StaticKeys([KEY.public_jwk]), "aicore", "aicore-game", clock)
    bad_role = jwt.encode(
        {**claims_for(clock), "roles": ["emperor"]}, KEY.private_key, "ES256", {"kid": KEY.kid}
    )
    no_world = jwt.encode(
        {k: v for k, v in claims_for(clock).items() if k != "world"},
        KEY.private_key,
        "ES256",
        {"kid": KEY.kid},
    )
    for token in (bad_role, no_world):
        with pytest.raises(Unauthorized):
            verifier.verify(token)
    assert verifier.verify(signer.issue(ALICE).token) == ALICE


@given(st.text(max_size=300))
def test_no_text_at_all_gets_past_the_verifier(token: str) -> None:
    with pytest.raises(Unauthorized):
        issuer(MovingClock()).verify(token)


def test_the_kid_is_the_rfc7638_thumbprint() -> None:
    # RFC 7638 section 3.1's example is RSA; this is the same computation over the EC members
    jwk = KEY.public_jwk
    canonical = json.dumps(
        {k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True
    )
    assert KEY.kid == thumbprint(jwk) == b64(hashlib.sha256(canonical.encode()).digest())
    assert SigningKey.from_seed("unit tests").kid == KEY.kid != SigningKey.from_seed("other").kid
    assert SigningKey.from_pem(KEY.to_pem()).kid == KEY.kid


def test_roles_include_game_servers() -> None:
    server = Caller(subject="srv-1", world_id="demo", roles=(Role.GAME_SERVER,))
    clock = MovingClock()
    assert issuer(clock).verify(issuer(clock).issue(server)) == server


def test_authorizer_context_round_trip() -> None:
    studio = Caller(subject="s", world_id="demo", roles=(Role.STUDIO, Role.PLAYER))
    assert Caller.from_context(studio.as_context()) == studio
    with pytest.raises(Unauthorized):
        Caller.from_context({})


def test_world_scope() -> None:
    ALICE.require_world("demo")
    with pytest.raises(Forbidden):
        ALICE.require_world("other")
    Caller(subject="root", world_id="demo", roles=(Role.ADMIN,)).require_world("other")


def test_bearer_token() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token(None) is None
