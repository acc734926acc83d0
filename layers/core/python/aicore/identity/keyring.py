"""Where keys are kept (interfaces the adapters implement) and the operations on them: set up,
rotate, and the signer's per-container cache of the key set."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any, Protocol

from aicore.clock import Clock, now
from aicore.identity.keys import KeySet, NewKey, PublishedKeys, RotationPolicy, SigningKey, ensure, rotate
from aicore.observability import logger


class KeyVault(Protocol):
    """The private key set (Secrets Manager in the cloud and locally)."""

    def load(self) -> KeySet: ...

    def save(self, keys: KeySet) -> None: ...


class KeyDirectory(Protocol):
    """The published public keys (an SSM parameter): what verifiers and the JWKS route read."""

    def load(self) -> PublishedKeys: ...

    def publish(self, keys: PublishedKeys) -> None: ...


class KeysNotReady(RuntimeError):
    """No current signing key: the deploy's key set-up has not run (an operator's problem)."""


def _store(vault: KeyVault, directory: KeyDirectory, keys: KeySet) -> None:
    """Publish first, then keep: between the two writes signers still sign with the old current
    key, which the new document still publishes (as previous), so no token is ever unverifiable."""
    directory.publish(keys.published())
    vault.save(keys)


def set_up_keys(
    vault: KeyVault, directory: KeyDirectory, clock: Clock = now, first_key: NewKey = SigningKey.generate
) -> KeySet:
    """A key set that can sign, published (idempotent: a deploy runs it every time)."""
    keys = ensure(vault.load(), clock(), first_key)
    _store(vault, directory, keys)
    return keys


def rotate_keys(
    vault: KeyVault, directory: KeyDirectory, policy: RotationPolicy, clock: Clock = now
) -> KeySet:
    keys = rotate(vault.load(), clock(), policy)
    _store(vault, directory, keys)
    current = keys.current
    logger.info("Signing keys rotated", extra={"current_kid": current.kid if current else None})
    return keys


class PublishedKeysCache:
    """The published document, read at most every `max_age_s` per container (the JWKS route)."""

    def __init__(self, directory: KeyDirectory, max_age_s: float, clock: Clock = now) -> None:
        self._directory, self._max_age, self._clock = directory, timedelta(seconds=max_age_s), clock
        self._lock = threading.Lock()
        self._loaded: tuple[datetime, PublishedKeys] | None = None

    def jwks(self) -> dict[str, Any]:
        """`{"keys": [...]}`: the keys not retired now."""
        with self._lock:
            at = self._clock()
            if self._loaded is None or at - self._loaded[0] >= self._max_age:
                self._loaded = (at, self._directory.load())
            return self._loaded[1].jwks(at)


class SignerKeys:
    """The current signing key, from the vault at most every `max_age_s` per container.

    A rotation reaches a warm signer within `max_age_s`, which is why a demoted key stays trusted
    that much longer than an access token lives (`RotationPolicy.signer_cache_s`).
    """

    def __init__(self, vault: KeyVault, max_age_s: float, clock: Clock = now) -> None:
        self._vault, self._max_age, self._clock = vault, timedelta(seconds=max_age_s), clock
        self._lock = threading.Lock()
        self._loaded_at: datetime | None = None
        self._current: SigningKey | None = None

    def current(self) -> SigningKey:
        with self._lock:
            at = self._clock()
            if self._current is None or self._loaded_at is None or at - self._loaded_at >= self._max_age:
                stored = self._vault.load().current
                if stored is None:
                    raise KeysNotReady("There is no current signing key: the key set-up has not run.")
                if self._current is None or self._current.kid != stored.kid:
                    self._current = stored.signing_key()
                self._loaded_at = at
            return self._current
