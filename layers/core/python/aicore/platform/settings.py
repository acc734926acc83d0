"""Settings: the operational tunables of the whole deployment and of each world, typed, validated,
versioned and audited, read by handlers through a short per-container cache.

Two documents: the global one (admins write it) and one per world (its studio, or an admin). A
world's document overrides the global one field by field (an unset field inherits). A write names
the version it was made from (`If-Match`; 0 creates the document), as world facts do: a stale
writer gets a conflict with the current version. Each accepted write and its audit entry (who,
which fields, before and after, when) are one DynamoDB transaction.

Handlers read settings through `SettingsCache`: a change reaches every running container within
`SETTINGS_CACHE_S` seconds (each container reads a document again once its copy is that old).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from aicore.auth import Caller, Role
from aicore.clock import Clock, now, stamp
from aicore.errors import Conflict, Forbidden
from aicore.performance import DEFAULT_MODE, PerformanceMode
from aicore.platform.clients import ClientPolicy

# The bound: a change applies in every container within this many seconds (the environment's
# SETTINGS_CACHE_S; `aicore local` sets 0: one process, a change applies at the next request).
SETTINGS_CACHE_S = 30.0
GLOBAL_SCOPE = "global"
MAX_AUDIT_ENTRIES = 100
WORLD_WRITERS = (Role.STUDIO, Role.ADMIN)
SETTINGS_READERS = (Role.STUDIO, Role.ADMIN, Role.GAME_SERVER)
CHANGE_ATTEMPTS = 3  # a view's blind change (the performance route) reads again after a lost race


def world_scope(world_id: str) -> str:
    return f"world#{world_id}"


class TurnBudget(BaseModel):
    """A token bucket of model turns: `per_minute` refill, at most `burst` at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_minute: int = Field(ge=1, le=600)
    burst: int = Field(ge=1, le=100)


class TurnLimits(BaseModel):
    """Model turns (npc.say) a player may take across all their connections, and one connection."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    player: TurnBudget = TurnBudget(per_minute=30, burst=10)
    connection: TurnBudget = TurnBudget(per_minute=20, burst=8)


class GlobalSettings(BaseModel):
    """Everywhere, unless a world says otherwise (`PUT /settings`, admins)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    performance_mode: PerformanceMode = DEFAULT_MODE  # of a world that set none
    limits: TurnLimits = TurnLimits()
    # Token frames of a streamed reply: the first at once, then at most one per this interval
    # (unset: the function's TOKEN_FRAME_INTERVAL_MS).
    token_frame_interval_ms: int | None = Field(None, ge=0, le=1000)
    clients: ClientPolicy = ClientPolicy()


class WorldSettings(BaseModel):
    """One world's overrides (`PUT /worlds/{world}/settings`, its studio); unset: the global value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    performance_mode: PerformanceMode | None = None
    limits: TurnLimits | None = None
    token_frame_interval_ms: int | None = Field(None, ge=0, le=1000)


@dataclass(frozen=True)
class EffectiveSettings:
    """What applies in one world now: its own settings over the global ones."""

    world_id: str
    world: WorldSettings
    everywhere: GlobalSettings

    @property
    def performance_mode(self) -> PerformanceMode:
        return self.world.performance_mode or self.everywhere.performance_mode

    @property
    def limits(self) -> TurnLimits:
        return self.world.limits or self.everywhere.limits

    @property
    def token_frame_interval_ms(self) -> int | None:
        if self.world.token_frame_interval_ms is not None:
            return self.world.token_frame_interval_ms
        return self.everywhere.token_frame_interval_ms


class StoredSettings(BaseModel):
    """A settings document as stored: its values (validated by the scope's model), at a version."""

    scope: str
    version: int = 0
    values: dict[str, Any] = Field(default_factory=dict)
    updated_at: str | None = None
    updated_by: str | None = None


class FieldChange(BaseModel):
    field: str  # dotted path: `limits.player.per_minute`
    before: Any = None
    after: Any = None


class AuditEntry(BaseModel):
    """Who changed which settings of a scope, from what to what, and when."""

    scope: str
    version: int
    changed_by: str
    changed_at: str
    changes: list[FieldChange]


class SettingsStore(Protocol):
    def read(self, scopes: list[str]) -> dict[str, StoredSettings]:
        """The documents of these scopes that exist, in one round trip."""
        ...

    def write(self, document: StoredSettings, expected_version: int, entry: AuditEntry) -> int | None:
        """In one transaction: the document if still at `expected_version` (0: absent) and its audit
        entry. None: written; else the version the document is at."""
        ...

    def audit(self, scope: str, limit: int) -> list[AuditEntry]:
        """The scope's latest audit entries, newest first."""
        ...


@dataclass
class SettingsDeps:
    store: SettingsStore
    time: Clock = now


class SettingsView(BaseModel):
    """`GET /settings`, `GET /worlds/{world}/settings`: the document and its version (If-Match)."""

    scope: str
    version: int
    settings: dict[str, Any]
    updated_at: str | None
    updated_by: str | None
    effective: dict[str, Any] | None = None  # a world's: with the global values filled in


def read_global(deps: SettingsDeps, caller: Caller) -> SettingsView:
    _require_reader(caller)
    stored = deps.store.read([GLOBAL_SCOPE]).get(GLOBAL_SCOPE) or StoredSettings(scope=GLOBAL_SCOPE)
    return _view(stored, GlobalSettings.model_validate(stored.values))


def read_world(deps: SettingsDeps, caller: Caller, world_id: str) -> SettingsView:
    _require_reader(caller)
    caller.require_world(world_id)
    found = deps.store.read([GLOBAL_SCOPE, world_scope(world_id)])
    effective = _effective(found, world_id)
    stored = found.get(world_scope(world_id))
    view = _view(stored or StoredSettings(scope=world_scope(world_id)), effective.world)
    view.effective = {
        "performance_mode": effective.performance_mode.value,
        "limits": effective.limits.model_dump(mode="json"),
        "token_frame_interval_ms": effective.token_frame_interval_ms,
    }
    return view


def change_global(
    deps: SettingsDeps, caller: Caller, values: GlobalSettings, expected_version: int
) -> SettingsView:
    """`PUT /settings` with `If-Match: <version>`: the whole document (omitted fields: defaults)."""
    if not caller.has(Role.ADMIN):
        raise Forbidden("Only an admin changes the global settings (they apply to every world).")
    return _write(deps, caller, GLOBAL_SCOPE, values, expected_version)


def change_world(
    deps: SettingsDeps, caller: Caller, world_id: str, values: WorldSettings, expected_version: int
) -> SettingsView:
    """`PUT /worlds/{world}/settings` with `If-Match: <version>` (omitted fields: inherited)."""
    if not caller.has_any(*WORLD_WRITERS):
        raise Forbidden("Only the world's studio (or an admin) changes its settings.")
    caller.require_world(world_id)
    return _write(deps, caller, world_scope(world_id), values, expected_version)


class ClientPolicyView(BaseModel):
    """`GET /clients/policy`: the client policy, and the global settings' version it is part of."""

    version: int
    policy: ClientPolicy
    updated_at: str | None
    updated_by: str | None


def read_client_policy(deps: SettingsDeps, caller: Caller) -> ClientPolicyView:
    view = read_global(deps, caller)
    return ClientPolicyView(
        version=view.version,
        policy=ClientPolicy.model_validate(view.settings["clients"]),
        updated_at=view.updated_at,
        updated_by=view.updated_by,
    )


def change_client_policy(
    deps: SettingsDeps, caller: Caller, policy: ClientPolicy, expected_version: int
) -> ClientPolicyView:
    """`PUT /clients/policy` with `If-Match: <the global settings' version>`: admins (it applies to
    every world); the rest of the global settings stays as it is at that version."""
    if not caller.has(Role.ADMIN):
        raise Forbidden("Only an admin changes the client policy (it applies to every world).")
    stored = deps.store.read([GLOBAL_SCOPE]).get(GLOBAL_SCOPE) or StoredSettings(scope=GLOBAL_SCOPE)
    values = GlobalSettings.model_validate(stored.values).model_copy(update={"clients": policy})
    written = _write(deps, caller, GLOBAL_SCOPE, values, expected_version)
    return ClientPolicyView(
        version=written.version, policy=policy, updated_at=written.updated_at, updated_by=written.updated_by
    )


def update_world(
    deps: SettingsDeps, caller: Caller, world_id: str, change: Callable[[WorldSettings], WorldSettings]
) -> SettingsView:
    """A change to one part of a world's settings from a route that takes no If-Match (the
    performance route): applied to the version it read; read again if it lost a race."""
    if not caller.has_any(*WORLD_WRITERS):
        raise Forbidden("Only the world's studio (or an admin) changes its settings.")
    caller.require_world(world_id)
    scope = world_scope(world_id)
    for _ in range(CHANGE_ATTEMPTS):
        stored = deps.store.read([scope]).get(scope) or StoredSettings(scope=scope)
        try:
            values = change(WorldSettings.model_validate(stored.values))
            return _write(deps, caller, scope, values, stored.version)
        except Conflict:
            continue
    raise Conflict("The world's settings kept changing while you set them: try again.")


def settings_audit(store: SettingsStore, caller: Caller, scope: str, limit: int | None) -> list[AuditEntry]:
    """`GET /settings/audit`, `GET /worlds/{world}/settings/audit`: studios and admins."""
    if not caller.has_any(Role.STUDIO, Role.ADMIN):
        raise Forbidden("Only a studio or an admin reads who changed the settings.")
    return store.audit(scope, min(limit or 20, MAX_AUDIT_ENTRIES))


def _require_reader(caller: Caller) -> None:
    if not caller.has_any(*SETTINGS_READERS):
        raise Forbidden("Settings are read by studios, game servers and admins.")


def _write(
    deps: SettingsDeps, caller: Caller, scope: str, values: BaseModel, expected_version: int
) -> SettingsView:
    current = deps.store.read([scope]).get(scope) or StoredSettings(scope=scope)
    before = type(values).model_validate(current.values).model_dump(mode="json")
    after = values.model_dump(mode="json")
    moment = stamp(deps.time())
    document = StoredSettings(
        scope=scope,
        version=expected_version + 1,
        values=values.model_dump(mode="json", exclude_defaults=True),
        updated_at=moment,
        updated_by=caller.subject,
    )
    entry = AuditEntry(
        scope=scope,
        version=document.version,
        changed_by=caller.subject,
        changed_at=moment,
        changes=diff(before, after),
    )
    stale_at = deps.store.write(document, expected_version, entry)
    if stale_at is not None:
        raise Conflict(
            f"The settings are at version {stale_at}, not {expected_version}: read them, then change "
            "them with If-Match: <their version>.",
            {"current_version": stale_at},
        )
    return _view(document, values)


def diff(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str = "") -> list[FieldChange]:
    """The leaves that differ, by dotted path (dictionaries are walked, anything else compared)."""
    changes: list[FieldChange] = []
    for key in sorted(set(before) | set(after)):
        old, new, path = before.get(key), after.get(key), f"{prefix}{key}"
        if isinstance(old, dict) and isinstance(new, dict):
            changes += diff(old, new, f"{path}.")
        elif old != new:
            changes.append(FieldChange(field=path, before=old, after=new))
    return changes


def _view(stored: StoredSettings, values: BaseModel) -> SettingsView:
    return SettingsView(
        scope=stored.scope,
        version=stored.version,
        settings=values.model_dump(mode="json"),
        updated_at=stored.updated_at,
        updated_by=stored.updated_by,
    )


def _effective(found: Mapping[str, StoredSettings], world_id: str) -> EffectiveSettings:
    everywhere, world = found.get(GLOBAL_SCOPE), found.get(world_scope(world_id))
    return EffectiveSettings(
        world_id=world_id,
        world=WorldSettings.model_validate(world.values if world else {}),
        everywhere=GlobalSettings.model_validate(everywhere.values if everywhere else {}),
    )


@dataclass
class _Copy:
    read_at: float
    document: StoredSettings | None


@dataclass
class SettingsCache:
    """Settings as a handler reads them: each document at most `ttl_s` old (one container's copy).

    `clock` is monotonic seconds (tests move it). Documents missing or too old are read together,
    in one round trip; a world's and the global document are refreshed in the same read. What a
    turn gets is parsed once per refresh, not once per turn.
    """

    store: SettingsStore
    ttl_s: float = SETTINGS_CACHE_S
    clock: Callable[[], float] = time.monotonic
    _copies: dict[str, _Copy] = field(default_factory=dict)
    _parsed: dict[str, tuple[_Copy | None, _Copy, EffectiveSettings]] = field(default_factory=dict)

    def for_world(self, world_id: str) -> EffectiveSettings:
        scopes = [GLOBAL_SCOPE, world_scope(world_id)]
        self._refresh(scopes)
        everywhere, world = self._copies[GLOBAL_SCOPE], self._copies[scopes[1]]
        parsed = self._parsed.get(world_id)
        if parsed is not None and parsed[0] is everywhere and parsed[1] is world:
            return parsed[2]
        found = {s: c.document for s, c in zip(scopes, (everywhere, world), strict=True) if c.document}
        effective = _effective(found, world_id)
        self._parsed[world_id] = (everywhere, world, effective)
        return effective

    def everywhere(self) -> GlobalSettings:
        self._refresh([GLOBAL_SCOPE])
        copy = self._copies[GLOBAL_SCOPE]
        parsed = self._parsed.get("")
        if parsed is None or parsed[1] is not copy:
            values = copy.document.values if copy.document else {}
            parsed = (
                None,
                copy,
                EffectiveSettings("", WorldSettings(), GlobalSettings.model_validate(values)),
            )
            self._parsed[""] = parsed
        return parsed[2].everywhere

    def _refresh(self, scopes: list[str]) -> None:
        moment = self.clock()
        due = [s for s in scopes if (c := self._copies.get(s)) is None or moment - c.read_at >= self.ttl_s]
        if not due:
            return
        found = self.store.read(due)
        for scope in due:
            self._copies[scope] = _Copy(moment, found.get(scope))
