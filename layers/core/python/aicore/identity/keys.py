"""Token-signing keys: ES256 (P-256) key pairs, the key set we keep, its rotation and what we publish.

The key set lives in two places: the private keys in one secret (only the functions that sign and
the rotation read it), the public keys in one published document (the JWKS; the authorizers read
only that). A key goes through three states:

    next      published, not signing yet: every cache learns it a whole rotation period before use
    current   signing (exactly one), published
    previous  published until `retire_after`: every token it signed has expired by then

A rotation drops retired keys, demotes `current` to `previous`, promotes `next` to `current` and
makes a new `next`. `retire_after` = rotation time + the longest an access token lives + how long
a signer may keep using a cached key set, so a token signed just before the rotation (by a signer
that had not seen it yet) still verifies until its own expiry, and no longer.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from pydantic import BaseModel, ConfigDict, Field, SecretStr

ALGORITHM = "ES256"
_CURVE_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)  # P-256's n


class SigningKey:
    """One P-256 private key; its `kid` is its RFC 7638 thumbprint (stable, unique, derived)."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError("ES256 keys are P-256 keys")
        self.private_key = private_key
        self.public_jwk: dict[str, str] = _public_jwk(private_key.public_key())
        self.kid = thumbprint(self.public_jwk)
        self.public_jwk |= {"kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_seed(cls, seed: str) -> SigningKey:
        """The same key from the same seed (development keys only: the seed is the secret)."""
        scalar = int.from_bytes(hashlib.sha256(seed.encode()).digest()) % (_CURVE_ORDER - 1) + 1
        return cls(ec.derive_private_key(scalar, ec.SECP256R1()))

    @classmethod
    def from_pem(cls, pem: str) -> SigningKey:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("a signing key must be an EC private key")
        return cls(key)

    def to_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()


def _public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    jwk: dict[str, str] = ECAlgorithm.to_jwk(public_key, as_dict=True)
    return {name: jwk[name] for name in ("kty", "crv", "x", "y")}


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: SHA-256 over the required members in lexical order, no whitespace, base64url."""
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(required, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class KeyState(StrEnum):
    NEXT = "next"
    CURRENT = "current"
    PREVIOUS = "previous"


class StoredKey(BaseModel):
    """A key as the secret keeps it."""

    model_config = ConfigDict(frozen=True)

    kid: str
    state: KeyState
    private_pem: SecretStr
    created_at: datetime
    retire_after: datetime | None = None  # previous keys only

    @classmethod
    def of(cls, key: SigningKey, state: KeyState, created_at: datetime) -> StoredKey:
        return cls(kid=key.kid, state=state, private_pem=SecretStr(key.to_pem()), created_at=created_at)

    def signing_key(self) -> SigningKey:
        return SigningKey.from_pem(self.private_pem.get_secret_value())

    def retired(self, at: datetime) -> bool:
        return self.retire_after is not None and at >= self.retire_after


class PublishedKey(BaseModel):
    """A public key as the published document keeps it: the JWK and when it stops being trusted."""

    model_config = ConfigDict(frozen=True)

    jwk: dict[str, str]
    retire_after: datetime | None = None

    @property
    def kid(self) -> str:
        return self.jwk["kid"]

    def retired(self, at: datetime) -> bool:
        return self.retire_after is not None and at >= self.retire_after


class PublishedKeys(BaseModel):
    """The published document (the JWKS route serves its live keys as `{"keys": [...]}`)."""

    keys: tuple[PublishedKey, ...] = ()

    def live(self, at: datetime) -> list[PublishedKey]:
        return [key for key in self.keys if not key.retired(at)]

    def jwks(self, at: datetime) -> dict[str, Any]:
        return {"keys": [key.jwk for key in self.live(at)]}


class KeySet(BaseModel):
    """The private key set, as the secret keeps it. Unknown members (a deploy's bootstrap value)
    are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    keys: tuple[StoredKey, ...] = ()
    rotated_at: datetime | None = None

    def in_state(self, state: KeyState) -> list[StoredKey]:
        return [key for key in self.keys if key.state is state]

    @property
    def current(self) -> StoredKey | None:
        found = self.in_state(KeyState.CURRENT)
        return found[0] if found else None

    def secret_json(self) -> str:
        """The document the secret keeps, private keys in clear (never log it)."""
        document = self.model_dump(mode="json")
        for stored, key in zip(self.keys, document["keys"], strict=True):
            key["private_pem"] = stored.private_pem.get_secret_value()
        return json.dumps(document)

    def published(self) -> PublishedKeys:
        return PublishedKeys(
            keys=tuple(
                PublishedKey(jwk=key.signing_key().public_jwk, retire_after=key.retire_after)
                for key in self.keys
            )
        )


class RotationPolicy(BaseModel):
    """How long a demoted key stays trusted: an access token's lifetime plus a signer's cache age."""

    model_config = ConfigDict(frozen=True)

    access_token_ttl_s: int = Field(900, ge=1, le=3600)
    signer_cache_s: int = Field(60, ge=0, le=3600)

    @property
    def overlap(self) -> timedelta:
        return timedelta(seconds=self.access_token_ttl_s + self.signer_cache_s)


NewKey = Callable[[], SigningKey]


def ensure(keys: KeySet, at: datetime, new_key: NewKey = SigningKey.generate) -> KeySet:
    """A key set that can sign: unchanged if it has a current and a next key, else completed."""
    current, upcoming = keys.current, keys.in_state(KeyState.NEXT)
    if current is not None and upcoming:
        return keys
    added: list[StoredKey] = []
    if current is None:
        added.append(StoredKey.of(new_key(), KeyState.CURRENT, at))
    if not upcoming:
        added.append(StoredKey.of(SigningKey.generate(), KeyState.NEXT, at))
    return KeySet(keys=(*keys.keys, *added), rotated_at=keys.rotated_at or at)


def rotate(keys: KeySet, at: datetime, policy: RotationPolicy) -> KeySet:
    """One rotation at `at`; a set that cannot sign yet is completed first."""
    keys = ensure(keys, at)
    rotated: list[StoredKey] = []
    for key in keys.keys:
        if key.state is KeyState.PREVIOUS and key.retired(at):
            continue  # every token it signed has expired: it is forgotten
        if key.state is KeyState.CURRENT:
            key = key.model_copy(update={"state": KeyState.PREVIOUS, "retire_after": at + policy.overlap})
        elif key.state is KeyState.NEXT:
            key = key.model_copy(update={"state": KeyState.CURRENT})
        rotated.append(key)
    rotated.append(StoredKey.of(SigningKey.generate(), KeyState.NEXT, at))
    return KeySet(keys=tuple(rotated), rotated_at=at)
