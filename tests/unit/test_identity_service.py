"""Logins, refresh with rotation and reuse detection, sign-out, trusted issuers; and the identity
handler's answers. Time is an injected clock; the provider's keys are made here (no network)."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from pydantic import ValidationError

from aicore.auth import Caller, Role
from aicore.errors import InvalidRequest, Unauthorized
from aicore.identity import service
from aicore.identity.issuers import IssuerRegistry, TrustedIssuer, parse_trusted_issuers
from aicore.identity.keyring import PublishedKeysCache
from aicore.identity.keys import KeySet, KeyState, PublishedKey, SigningKey, StoredKey
from aicore.identity.service import Exchange, GuestLogin, IdentityDeps, IdentityPolicy, RefreshRequest
from aicore.identity.tokens import StaticKeys, TokenSigner, TokenVerifier
from aicore.platform.clients import ClientPolicy
from tests import handlers
from tests.handlers import http_event
from tests.identity_fakes import FakeDirectory, FakeHealth, FakeIdentityStore, MovingClock

KEY = SigningKey.from_seed("identity unit tests")
PROVIDER_KEY = SigningKey.from_seed("a provider's own key")
DEVICE = "device-0123456789abcdef"
HEALTH = FakeHealth()
PROVIDER = TrustedIssuer(
    name="studio-auth",
    issuer="https://auth.studio.example",
    audience="the-game",
    keys=(PROVIDER_KEY.public_jwk,),
    player_claim="account",
)


def deps(clock: MovingClock, store: FakeIdentityStore | None = None, **policy: Any) -> IdentityDeps:
    return IdentityDeps(
        store=store or FakeIdentityStore(),
        signer=TokenSigner(lambda: KEY, "aicore", "aicore-game", clock),
        issuers=IssuerRegistry([PROVIDER], clock=clock),
        policy=IdentityPolicy(**{"worlds": ("demo", "north"), **policy}),
        clock=clock,
    )


def verify(clock: MovingClock, token: str) -> Caller:
    return TokenVerifier(StaticKeys([KEY.public_jwk]), "aicore", "aicore-game", clock).verify(token)


def provider_token(clock: MovingClock, key: SigningKey = PROVIDER_KEY, **claims: Any) -> str:
    now = int(clock().timestamp())
    body = {"iss": PROVIDER.issuer, "aud": "the-game", "account": "acct-42", "iat": now, "exp": now + 300}
    return jwt.encode({**body, **claims}, key.private_key, "ES256", {"kid": key.kid})


def test_a_guest_gets_short_lived_access_a_refresh_token_and_the_same_player_id_each_time() -> None:
    clock = MovingClock()
    identity = deps(clock)
    first = service.guest_login(identity, GuestLogin(device_id=DEVICE))
    again = service.guest_login(identity, GuestLogin(device_id=DEVICE, world="north"))
    other = service.guest_login(identity, GuestLogin(device_id="another-device-0123456789"))
    assert first.player_id == again.player_id != other.player_id
    assert first.player_id.startswith("ply_")
    assert first.expires_in == 900
    assert first.refresh_expires_in == 30 * 24 * 3600
    assert verify(clock, first.access_token) == Caller(subject=first.player_id, world_id="demo")
    assert verify(clock, again.access_token).world_id == "north"
    assert first.refresh_token != again.refresh_token
    # the device id is kept hashed, never as sent
    assert DEVICE not in json.dumps(list(identity.store.links))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "body",
    [
        {"device_id": "short"},
        {"device_id": "x" * 129},
        {"device_id": "has spaces in it, sixteen+"},
        {"device_id": 1234567890123456789},
        {"device_id": DEVICE, "extra": 1},
        {},
    ],
)
def test_device_ids_are_bounded_and_validated(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        GuestLogin.model_validate(body)


def test_a_world_players_may_not_enter_is_refused() -> None:
    with pytest.raises(InvalidRequest) as refused:
        service.guest_login(deps(MovingClock()), GuestLogin(device_id=DEVICE, world="secret-world"))
    assert refused.value.details == {"worlds": ["demo", "north"]}


def test_refresh_rotates_and_the_old_refresh_token_stops_working() -> None:
    # Given a guest session
    clock = MovingClock()
    identity = deps(clock)
    login = service.guest_login(identity, GuestLogin(device_id=DEVICE))
    # When it refreshes ten minutes later
    clock.advance(600)
    refreshed = service.refresh(identity, RefreshRequest(refresh_token=login.refresh_token))
    # Then it gets a fresh access token for the same player and a new refresh token
    assert refreshed.player_id == login.player_id
    assert refreshed.refresh_token != login.refresh_token
    assert (
        jwt.decode(refreshed.access_token, options={"verify_signature": False})["exp"]
        == int(clock().timestamp()) + 900
    )
    # And the next refresh with the new one works
    refreshed_again = service.refresh(identity, RefreshRequest(refresh_token=refreshed.refresh_token))
    assert verify(clock, refreshed_again.access_token).subject == login.player_id


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family() -> None:
    # Given a session refreshed once (the thief kept the first refresh token)
    clock = MovingClock()
    identity = deps(clock)
    login = service.guest_login(identity, GuestLogin(device_id=DEVICE))
    players_token = service.refresh(identity, RefreshRequest(refresh_token=login.refresh_token)).refresh_token
    # When the first token is used again
    with pytest.raises(Unauthorized, match="used before"):
        service.refresh(identity, RefreshRequest(refresh_token=login.refresh_token))
    # Then the player's current refresh token is dead too; a new login works
    with pytest.raises(Unauthorized, match="signed out"):
        service.refresh(identity, RefreshRequest(refresh_token=players_token))
    fresh = service.guest_login(identity, GuestLogin(device_id=DEVICE))
    assert (
        service.refresh(identity, RefreshRequest(refresh_token=fresh.refresh_token)).player_id
        == login.player_id
    )


def test_logout_revokes_and_is_idempotent() -> None:
    clock = MovingClock()
    identity = deps(clock)
    login = service.guest_login(identity, GuestLogin(device_id=DEVICE))
    assert service.logout(identity, RefreshRequest(refresh_token=login.refresh_token)).signed_out
    assert service.logout(identity, RefreshRequest(refresh_token=login.refresh_token)).signed_out
    assert service.logout(identity, RefreshRequest(refresh_token="unknown-token-of-enough-length")).signed_out
    with pytest.raises(Unauthorized):
        service.refresh(identity, RefreshRequest(refresh_token=login.refresh_token))


def test_a_refresh_token_expires_after_its_ttl() -> None:
    clock = MovingClock()
    identity = deps(clock, refresh_token_ttl_s=3600)
    login = service.guest_login(identity, GuestLogin(device_id=DEVICE))
    clock.advance(3600)
    with pytest.raises(Unauthorized, match="expired"):
        service.refresh(identity, RefreshRequest(refresh_token=login.refresh_token))


def test_an_access_token_lives_the_policy_s_minutes() -> None:
    clock = MovingClock()
    login = service.guest_login(deps(clock, access_token_ttl_s=300), GuestLogin(device_id=DEVICE))
    assert login.expires_in == 300
    clock.advance(299)
    verify(clock, login.access_token)
    clock.advance(1)
    with pytest.raises(Unauthorized, match="expired"):
        verify(clock, login.access_token)


def test_exchange_links_a_provider_account_to_one_player() -> None:
    clock = MovingClock()
    identity = deps(clock)
    first = service.exchange(identity, Exchange(provider="studio-auth", token=provider_token(clock)))
    again = service.exchange(identity, Exchange(provider="studio-auth", token=provider_token(clock)))
    other = service.exchange(
        identity, Exchange(provider="studio-auth", token=provider_token(clock, account="acct-7"))
    )
    assert first.player_id == again.player_id != other.player_id
    assert verify(clock, first.access_token).roles == (Role.PLAYER,)


@pytest.mark.parametrize(
    ("forge", "message"),
    [
        (lambda c: provider_token(c, key=SigningKey.generate()), "not trusted"),
        (lambda c: provider_token(c, exp=int(c().timestamp()) - 1), "expired"),
        (lambda c: provider_token(c, aud="another-game"), "InvalidAudience"),
        (lambda c: provider_token(c, iss="https://evil.example"), "InvalidIssuer"),
        (lambda c: provider_token(c, account=None), "MissingRequiredClaim"),
        (
            lambda c: jwt.encode(
                {"account": "a", "exp": 2**40}, "k" * 32, "HS256", {"kid": PROVIDER_KEY.kid}
            ),
            "algorithm",
        ),
    ],
)
def test_exchange_refuses_tokens_the_provider_did_not_sign_for_us(forge: Any, message: str) -> None:
    clock = MovingClock()
    with pytest.raises(Unauthorized, match=message):
        service.exchange(deps(clock), Exchange(provider="studio-auth", token=forge(clock)))


def test_exchange_with_an_unknown_provider_names_the_known_ones() -> None:
    clock = MovingClock()
    with pytest.raises(InvalidRequest) as refused:
        service.exchange(deps(clock), Exchange(provider="steam", token=provider_token(clock)))
    assert refused.value.details == {"known_providers": ["studio-auth"]}


def test_a_provider_jwks_is_fetched_through_the_cache() -> None:
    # Given an issuer configured with a JWKS URL, whose fetch is injected (no network)
    clock = MovingClock()
    fetched: list[str] = []

    def fetch(url: str) -> list[PublishedKey]:
        fetched.append(url)
        return [PublishedKey(jwk=PROVIDER_KEY.public_jwk)]

    issuer = PROVIDER.model_copy(update={"keys": None, "jwks_url": "https://auth.studio.example/jwks"})
    registry = IssuerRegistry([issuer], fetch=fetch, clock=clock)
    # When two tokens are exchanged
    for _ in range(2):
        assert registry.verify("studio-auth", provider_token(clock)) == (issuer, "acct-42")
    # Then the JWKS was read once
    assert fetched == ["https://auth.studio.example/jwks"]


def test_trusted_issuer_configuration_is_checked() -> None:
    assert parse_trusted_issuers(None) == ()
    good = {"name": "cognito", "issuer": "https://i", "audience": "a", "jwks_url": "https://i/jwks"}
    assert parse_trusted_issuers(json.dumps([good]))[0].roles == (Role.PLAYER,)
    assert parse_trusted_issuers(json.dumps([{**good, "jwks_url": "http://127.0.0.1:9/jwks"}]))
    for bad in (
        {**good, "roles": ["admin"]},  # an issuer grants player or game_server, nothing more
        {**good, "jwks_url": "http://example.com/jwks"},  # plain http only on loopback
        {**good, "keys": [PROVIDER_KEY.public_jwk]},  # both a URL and keys
        {k: v for k, v in good.items() if k != "jwks_url"},  # neither
    ):
        with pytest.raises(ValueError, match="validation error"):
            parse_trusted_issuers(json.dumps([bad]))
    with pytest.raises(ValueError, match="unique"):
        parse_trusted_issuers(json.dumps([good, good]))


def invoke(
    method: str, path: str, body: Any, identity: IdentityDeps, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The identity function's real handler, with fakes behind every route."""
    event = http_event(method, path, path, body=body, headers=headers)
    event["requestContext"].pop("authorizer")
    if not headers:
        event["headers"].pop("authorization")
    clock = identity.clock
    directory = FakeDirectory(KeySet(keys=(StoredKey.of(KEY, KeyState.CURRENT, clock()),)).published())
    answer = handlers.invoke(
        "identity-api",
        event,
        deps=identity,
        published=PublishedKeysCache(directory, 60, clock),
        verifier=TokenVerifier(StaticKeys([KEY.public_jwk]), "aicore", "aicore-game", clock),
        health=HEALTH,
        version="1.2.3",
        clients=ClientPolicy,  # no client versions asked for
    )
    return answer["statusCode"], json.loads(answer["body"]), answer.get("headers") or {}


def test_the_routes_answer_in_the_envelope_with_no_store() -> None:
    clock = MovingClock()
    identity = deps(clock)
    status, body, headers = invoke("POST", "/auth/guest", {"device_id": DEVICE}, identity)
    assert status == 200
    assert body["ok"]
    assert body["operation"] == "identity.guest"
    assert set(body["data"]) >= {"access_token", "refresh_token", "expires_in", "player_id"}
    assert headers["Cache-Control"] == "no-store"
    status, refreshed, _ = invoke(
        "POST", "/auth/refresh", {"refresh_token": body["data"]["refresh_token"]}, identity
    )
    assert status == 200
    assert refreshed["data"]["player_id"] == body["data"]["player_id"]
    status, reused, _ = invoke(
        "POST", "/auth/refresh", {"refresh_token": body["data"]["refresh_token"]}, identity
    )
    assert (status, reused["error"]["code"]) == (401, "unauthorized")
    status, out, _ = invoke(
        "POST", "/auth/logout", {"refresh_token": refreshed["data"]["refresh_token"]}, identity
    )
    assert (status, out["data"]) == (200, {"signed_out": True})


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/auth/guest", "{not json", "invalid_json"),
        ("/auth/guest", {"device_id": "tiny"}, "invalid_request"),
        ("/auth/exchange", {"provider": "studio-auth"}, "invalid_request"),
        ("/auth/refresh", {"refresh_token": "x" * 300}, "invalid_request"),
        ("/auth/exchange", {"provider": "studio-auth", "token": "garbage"}, "unauthorized"),
    ],
)
def test_bad_input_gets_a_clear_code_and_is_never_echoed(path: str, body: Any, code: str) -> None:
    status, answer, _ = invoke("POST", path, body, deps(MovingClock()))
    assert answer["error"]["code"] == code
    assert status in (400, 401)
    assert "tiny" not in json.dumps(answer)
    assert "garbage" not in json.dumps(answer)


def test_the_jwks_is_a_jwks_and_an_envelope_and_holds_no_private_part() -> None:
    status, body, headers = invoke("GET", "/.well-known/jwks.json", None, deps(MovingClock()))
    assert status == 200
    assert body["ok"]
    assert body["keys"] == body["data"]["keys"] == [KEY.public_jwk]
    assert jwt.PyJWKSet.from_dict({"keys": body["keys"]})[KEY.kid].algorithm_name == "ES256"
    assert "d" not in body["keys"][0]
    assert headers["Cache-Control"] == "public, max-age=900"


def test_status_tells_anyone_the_version_and_only_an_admin_the_health() -> None:
    # Given the status route, asked without a token, with a player's and with an admin's
    clock = MovingClock()
    identity = deps(clock)
    signer = TokenSigner(lambda: KEY, "aicore", "aicore-game", clock)
    player = signer.issue(Caller(subject="p", world_id="demo")).token
    admin = signer.issue(Caller(subject="root", world_id="demo", roles=(Role.ADMIN,))).token
    asked = HEALTH.asked
    _, anyone, _ = invoke("GET", "/status", None, identity)
    _, as_player, _ = invoke("GET", "/status", None, identity, {"authorization": f"Bearer {player}"})
    # Then neither is told more than {ok, version}, and nothing was asked of the dependencies
    assert anyone["data"] == as_player["data"] == {"ok": True, "version": "1.2.3"}
    assert HEALTH.asked == asked
    # When an admin asks, and one dependency is down
    HEALTH.broken = {"silver"}
    try:
        status, as_admin, _ = invoke("GET", "/status", None, identity, {"authorization": f"Bearer {admin}"})
    finally:
        HEALTH.broken = set()
    # Then every dependency is listed, and ok says not all is well
    assert status == 200
    details = as_admin["data"]["details"]
    assert as_admin["data"]["ok"] is False
    assert [t["name"] for t in details["tables"]] == ["connections", "identity", "sessions"]
    assert details["bus"] == {"name": "bus", "ok": True, "status": "ACTIVE"}
    assert {t["name"]: t["ok"] for t in details["model_tiers"]} == {"gold": True, "silver": False}
    # And a bad token is refused outright
    status, refused, _ = invoke("GET", "/status", None, identity, {"authorization": "Bearer forged"})
    assert (status, refused["error"]["code"]) == (401, "unauthorized")
