"""Identity over the real local gateway and authorizer: guest and exchange logins, refresh rotation
and revocation, key rotation (old tokens valid until they expire, the old key until it retires),
forged tokens denied at the door of both APIs, the JWKS, status. Waits are on outcomes, with
deadlines; the access tokens of this runtime live `ACCESS_TOKEN_TTL_S` seconds."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from aicore.auth import Caller, Role
from aicore.aws.signing_keys import SecretsManagerKeyVault, SsmKeyDirectory
from aicore.identity.keys import SigningKey
from aicore.local.runtime import ENV, LocalRuntime, local_token
from aicore.topology import KEY_ROTATION, TOPOLOGY, SigningKeys
from tests.clients import http_json
from tests.identity_provider import ProviderStandIn
from tests.integration.conftest import ACCESS_TOKEN_TTL_S
from tests.waiting import eventually

SIGNING = TOPOLOGY.signing_keys or SigningKeys()


def base(runtime: LocalRuntime) -> str:
    return f"http://127.0.0.1:{runtime.options.port}"


def guest(runtime: LocalRuntime, device: str) -> dict[str, Any]:
    status, body = http_json(f"{base(runtime)}/auth/guest", method="POST", body={"device_id": device})
    assert status == 200, body
    data: dict[str, Any] = body["data"]
    return data


def http_door(runtime: LocalRuntime, token: str) -> int:
    """What the HTTP API's authorizer makes of a token (an authorized route of the world)."""
    status, _ = http_json(f"{base(runtime)}/worlds/demo/npcs", token)
    return status


def websocket_door(runtime: LocalRuntime, token: str) -> int:
    """101 when `$connect` admits the token, else the refusal's status."""

    async def connect() -> int:
        try:
            async with websockets.connect(f"ws://127.0.0.1:{runtime.options.port}/ws?token={token}"):
                return 101
        except InvalidStatus as refused:
            return refused.response.status_code

    return asyncio.run(connect())


def current_key() -> SigningKey:
    current = SecretsManagerKeyVault(SIGNING.secret_name(ENV)).load().current
    assert current is not None
    return current.signing_key()


def device() -> str:
    return f"device-{time.time_ns()}-identity"


def test_a_guest_logs_in_connects_refreshes_and_signs_out(runtime: LocalRuntime) -> None:
    # Given a guest login
    phone = device()
    login = guest(runtime, phone)
    # Then the access token opens both APIs, for the same player every time the device logs in
    assert login["expires_in"] == ACCESS_TOKEN_TTL_S
    assert http_door(runtime, login["access_token"]) == 200
    assert websocket_door(runtime, login["access_token"]) == 101
    assert guest(runtime, phone)["player_id"] == login["player_id"]
    # When it refreshes, the old refresh token stops working, and its reuse revokes the family
    status, refreshed = http_json(
        f"{base(runtime)}/auth/refresh", method="POST", body={"refresh_token": login["refresh_token"]}
    )
    assert status == 200
    assert http_door(runtime, refreshed["data"]["access_token"]) == 200
    status, reused = http_json(
        f"{base(runtime)}/auth/refresh", method="POST", body={"refresh_token": login["refresh_token"]}
    )
    assert (status, reused["error"]["code"]) == (401, "unauthorized")
    status, _ = http_json(
        f"{base(runtime)}/auth/refresh",
        method="POST",
        body={"refresh_token": refreshed["data"]["refresh_token"]},
    )
    assert status == 401
    # And a sign-out ends a fresh session's refresh token
    fresh = guest(runtime, phone)
    status, out = http_json(
        f"{base(runtime)}/auth/logout", method="POST", body={"refresh_token": fresh["refresh_token"]}
    )
    assert (status, out["data"]) == (200, {"signed_out": True})
    status, _ = http_json(
        f"{base(runtime)}/auth/refresh", method="POST", body={"refresh_token": fresh["refresh_token"]}
    )
    assert status == 401


def test_a_trusted_issuer_s_token_is_exchanged_for_ours(
    runtime: LocalRuntime, provider: ProviderStandIn
) -> None:
    url = f"{base(runtime)}/auth/exchange"
    status, first = http_json(
        url, method="POST", body={"provider": "studio-auth", "token": provider.token("acct-1")}
    )
    assert status == 200, first
    _, again = http_json(
        url, method="POST", body={"provider": "studio-auth", "token": provider.token("acct-1")}
    )
    assert again["data"]["player_id"] == first["data"]["player_id"]
    assert http_door(runtime, first["data"]["access_token"]) == 200
    forged = provider.token("acct-1", key=SigningKey.generate())
    status, refused = http_json(url, method="POST", body={"provider": "studio-auth", "token": forged})
    assert (status, refused["error"]["code"]) == (401, "unauthorized")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.{b64(signature)}"


def forgeries() -> dict[str, str]:
    """Tokens an attacker could send, each wrong in one way; all for an admin of the world."""
    key, now = current_key(), int(time.time())
    claims: dict[str, Any] = {
        "sub": "mallory",
        "world": "demo",
        "roles": ["admin"],
        "iss": "aicore",
        "aud": "aicore-game",
    }
    claims |= {"iat": now, "exp": now + 600}

    def signed(**changes: Any) -> str:
        return jwt.encode({**claims, **changes}, key.private_key, "ES256", {"kid": key.kid})

    hs256_input = (
        f"{b64(json.dumps({'alg': 'HS256', 'kid': key.kid}).encode())}.{b64(json.dumps(claims).encode())}"
    )
    public_pem = json.dumps(key.public_jwk).encode()
    return {
        "wrong key": jwt.encode(claims, SigningKey.generate().private_key, "ES256", {"kid": key.kid}),
        "alg none": handmade({"alg": "none", "kid": key.kid}, claims, b""),
        "HS256 keyed with the public key": hs256_input
        + "."
        + b64(hmac.new(public_pem, hs256_input.encode(), hashlib.sha256).digest()),
        "expired": signed(iat=now - 700, exp=now - 100),
        "wrong audience": signed(aud="another-game"),
        "wrong issuer": signed(iss="someone-else"),
    }


def test_forged_tokens_are_denied_at_both_doors(runtime: LocalRuntime) -> None:
    for name, token in forgeries().items():
        assert http_door(runtime, token) == 403, name
        assert websocket_door(runtime, token) == 401, name
    # the same claims, rightly signed, pass: the doors refuse the forgery, not the caller
    key = current_key()
    good = jwt.encode(
        {"sub": "p", "world": "demo", "iss": "aicore", "aud": "aicore-game", "iat": int(time.time()),
         "exp": int(time.time()) + 60},
        key.private_key, "ES256", {"kid": key.kid},
    )  # fmt: skip
    assert http_door(runtime, good) == 200


def test_after_a_rotation_old_tokens_live_until_they_expire_and_the_old_key_until_it_retires(
    runtime: LocalRuntime,
) -> None:
    vault, directory = (
        SecretsManagerKeyVault(SIGNING.secret_name(ENV)),
        SsmKeyDirectory(SIGNING.public_parameter(ENV)),
    )
    before = vault.load()
    try:
        # Given a token signed by the current key, and a long-lived one the same key signs
        old = guest(runtime, device())
        old_kid = jwt.get_unverified_header(old["access_token"])["kid"]
        old_key = current_key()
        long_lived = jwt.encode(
            {"sub": "p", "world": "demo", "iss": "aicore", "aud": "aicore-game", "iat": int(time.time()),
             "exp": int(time.time()) + 3600},
            old_key.private_key, "ES256", {"kid": old_kid},
        )  # fmt: skip
        # When the keys rotate (the schedule fires)
        runtime.schedules.fire(KEY_ROTATION.name)
        # Then the old tokens still open both doors, and new logins soon get the new key
        assert http_door(runtime, old["access_token"]) == 200
        assert websocket_door(runtime, long_lived) == 101
        new = eventually(
            lambda: signed_by_another_key(guest(runtime, device()), old_kid),
            timeout_s=30,
            what="a login signed by the new current key",
        )
        assert http_door(runtime, new["access_token"]) == 200
        # When the old access token's own expiry passes, it is refused
        eventually(
            lambda: http_door(runtime, old["access_token"]) == 403, timeout_s=90, what="old token expiring"
        )
        # And once the old key retires, even a token it signed for an hour is refused
        eventually(lambda: http_door(runtime, long_lived) == 403, timeout_s=90, what="old key retiring")
        assert websocket_door(runtime, long_lived) == 401
        _, body = http_json(f"{base(runtime)}/.well-known/jwks.json")
        assert old_kid not in {k["kid"] for k in body["keys"]}
    finally:  # the other tests' development tokens are signed by the key this test retired
        directory.publish(before.published())
        vault.save(before)
        eventually(
            lambda: http_door(runtime, local_token("p", "demo")) == 200, timeout_s=30, what="keys restored"
        )


def signed_by_another_key(login: dict[str, Any], kid: str) -> dict[str, Any] | None:
    return login if jwt.get_unverified_header(login["access_token"])["kid"] != kid else None


def test_the_jwks_publishes_the_keys_that_verify(runtime: LocalRuntime) -> None:
    status, body = http_json(f"{base(runtime)}/.well-known/jwks.json")
    assert status == 200
    assert body["ok"]

    def published() -> tuple[str, dict[str, Any]] | None:
        # (after the rotation test restores the keys, the signer and the JWKS agree within their caches)
        token = guest(runtime, device())["access_token"]
        _, jwks = http_json(f"{base(runtime)}/.well-known/jwks.json")
        kid = jwt.get_unverified_header(token)["kid"]
        return (token, jwks) if kid in {k["kid"] for k in jwks["keys"]} else None

    token, body = eventually(published, timeout_s=60, what="the signing key in the JWKS")
    keys = jwt.PyJWKSet.from_dict({"keys": body["keys"]})
    kid = jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(token, keys[kid].key, algorithms=["ES256"], audience="aicore-game", issuer="aicore")
    assert claims["world"] == "demo"
    assert all("d" not in key for key in body["keys"])


def test_status_answers_anyone_and_details_only_to_an_admin(runtime: LocalRuntime) -> None:
    status, anyone = http_json(f"{base(runtime)}/status")
    assert status == 200
    assert set(anyone["data"]) == {"ok", "version"}
    admin = local_token("root", "demo", (Role.ADMIN,))
    status, detailed = http_json(f"{base(runtime)}/status", admin)
    assert status == 200
    details = detailed["data"]["details"]
    assert {t["name"] for t in details["tables"]} == {t.name for t in TOPOLOGY.tables}
    assert all(t["ok"] for t in details["tables"])
    assert details["bus"]["ok"]
    assert {t["name"]: t["status"] for t in details["model_tiers"]}["gold"] == "InService"
    player = local_token("p", "demo")
    _, as_player = http_json(f"{base(runtime)}/status", player)
    assert "details" not in as_player["data"]
    assert Caller(subject="p", world_id="demo")  # the player token is a player's


@pytest.mark.parametrize("body", [{"device_id": "short"}, {"device_id": "x" * 200}, {}])
def test_bad_logins_get_the_envelope(runtime: LocalRuntime, body: dict[str, Any]) -> None:
    status, answer = http_json(f"{base(runtime)}/auth/guest", method="POST", body=body)
    assert (status, answer["error"]["code"]) == (400, "invalid_request")
