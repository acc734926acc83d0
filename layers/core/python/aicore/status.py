"""`GET /status`: is the service up, which version; for admins, the health of what it depends on."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel

from aicore.auth import Caller, Role


class DependencyHealth(BaseModel):
    name: str
    ok: bool
    status: str  # what the service says: ACTIVE, InService, … or why it could not be asked


class StatusDetails(BaseModel):
    version: str
    tables: list[DependencyHealth]
    bus: DependencyHealth
    model_tiers: list[DependencyHealth]


class Status(BaseModel):
    ok: bool
    version: str
    details: StatusDetails | None = None


class Health(Protocol):
    """Asks each dependency how it is (describe calls only: never a read of data)."""

    def tables(self) -> list[DependencyHealth]: ...

    def bus(self) -> DependencyHealth: ...

    def model_tiers(self) -> list[DependencyHealth]: ...


def status(version: str, caller: Caller | None, health: Health) -> Status:
    """Anyone: `{ok, version}` (nothing is asked: cheap, and it tells nothing). An admin: every
    dependency's health too, and `ok` only when all are well."""
    if caller is None or not caller.has(Role.ADMIN):
        return Status(ok=True, version=version)
    details = StatusDetails(
        version=version, tables=health.tables(), bus=health.bus(), model_tiers=health.model_tiers()
    )
    everything = [*details.tables, details.bus, *details.model_tiers]
    return Status(ok=all(d.ok for d in everything), version=version, details=details)
