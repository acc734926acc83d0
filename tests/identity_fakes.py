"""Fakes for identity: a clock tests move, the key stores and the identity store in memory
(with the DynamoDB adapter's semantics: one refresh token rotates once, reuse revokes the family)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from aicore.identity.issuers import IssuerRegistry, TrustedIssuer
from aicore.identity.keyring import PublishedKeysCache
from aicore.identity.keys import KeySet, KeyState, PublishedKeys, SigningKey, StoredKey
from aicore.identity.service import GuestLogin, IdentityDeps, guest_login
from aicore.identity.store import RefreshRecord, RefreshState, Rotation
from aicore.identity.tokens import StaticKeys, TokenSigner, TokenVerifier
from aicore.status import DependencyHealth

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@dataclass
class MovingClock:
    """`clock()` is now; `advance(seconds)` moves it on. Nothing waits."""

    at: datetime = START

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@dataclass
class FakeVault:
    keys: KeySet = field(default_factory=KeySet)
    loads: int = 0

    def load(self) -> KeySet:
        self.loads += 1
        return self.keys

    def save(self, keys: KeySet) -> None:
        self.keys = keys


@dataclass
class FakeDirectory:
    published: PublishedKeys = field(default_factory=PublishedKeys)
    loads: int = 0

    def load(self) -> PublishedKeys:
        self.loads += 1
        return self.published

    def publish(self, keys: PublishedKeys) -> None:
        self.published = keys


@dataclass
class FakeIdentityStore:
    links: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, RefreshRecord] = field(default_factory=dict)
    revoked: dict[str, datetime] = field(default_factory=dict)
    families: set[str] = field(default_factory=set)

    def link(self, link_key: str, player_id: str, at: datetime) -> str:
        return self.links.setdefault(link_key, player_id)

    def refresh_record(self, token_hash: str) -> RefreshRecord | None:
        return self.tokens.get(token_hash)

    def start_family(self, first: RefreshRecord, at: datetime) -> None:
        assert first.family_id not in self.families
        assert first.token_hash not in self.tokens
        self.families.add(first.family_id)
        self.tokens[first.token_hash] = first

    def rotate(self, old: RefreshRecord, new: RefreshRecord, at: datetime) -> Rotation:
        if self.tokens[old.token_hash].state is not RefreshState.ACTIVE:
            self.revoke_family(old.family_id, at)
            return Rotation.REUSED
        if old.family_id in self.revoked:
            return Rotation.REVOKED
        self.tokens[old.token_hash] = old.model_copy(update={"state": RefreshState.ROTATED})
        self.tokens[new.token_hash] = new
        return Rotation.ROTATED

    def revoke_family(self, family_id: str, at: datetime) -> None:
        if family_id in self.families:
            self.revoked.setdefault(family_id, at)


@dataclass
class FakeHealth:
    """Every dependency as healthy as `broken` allows; counts how often it was asked."""

    broken: set[str] = field(default_factory=set)
    asked: int = 0

    def _one(self, name: str, good: str) -> DependencyHealth:
        return DependencyHealth(
            name=name, ok=name not in self.broken, status="DOWN" if name in self.broken else good
        )

    def tables(self) -> list[DependencyHealth]:
        self.asked += 1
        return [self._one(n, "ACTIVE") for n in ("connections", "identity", "sessions")]

    def bus(self) -> DependencyHealth:
        return self._one("bus", "ACTIVE")

    def model_tiers(self) -> list[DependencyHealth]:
        return [self._one(n, "InService") for n in ("gold", "silver")]


EDGE_KEY_SEED = "edge tests"
EDGE_PROVIDER = "edge-provider"


@dataclass
class IdentityEdge:
    """The identity function's dependencies over fakes, with a live refresh token and a provider
    token ready (what a valid body on each identity route needs)."""

    deps: IdentityDeps
    refresh_token: str
    provider_token: str
    health: FakeHealth = field(default_factory=FakeHealth)

    def handler_deps(self) -> dict[str, Any]:
        key = SigningKey.from_seed(EDGE_KEY_SEED)
        published = KeySet(keys=(StoredKey.of(key, KeyState.CURRENT, START),)).published()
        return {
            "deps": self.deps,
            "published": PublishedKeysCache(FakeDirectory(published), 60),
            "verifier": TokenVerifier(StaticKeys([key.public_jwk]), "aicore", "aicore-game"),
            "health": self.health,
            "version": "edge",
        }


def identity_edge() -> IdentityEdge:
    key, provider = SigningKey.from_seed(EDGE_KEY_SEED), SigningKey.from_seed("edge provider")
    issuer = TrustedIssuer(
        name=EDGE_PROVIDER, issuer="https://edge.example", audience="edge", keys=(provider.public_jwk,)
    )
    deps = IdentityDeps(
        store=FakeIdentityStore(),
        signer=TokenSigner(lambda: key, "aicore", "aicore-game"),
        issuers=IssuerRegistry([issuer]),
    )
    login = guest_login(deps, GuestLogin(device_id="edge-device-0123456789"))
    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": "https://edge.example", "aud": "edge", "sub": "acct", "exp": now + 3600}
    token = jwt.encode(claims, provider.private_key, "ES256", {"kid": provider.kid})
    return IdentityEdge(deps, login.refresh_token, token)
