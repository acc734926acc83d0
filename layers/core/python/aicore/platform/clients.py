"""Client versions: what a client says it is (`?client=<platform>/<version>` at connect,
`X-Client-Version` on HTTP) and what the policy of its platform says about it.

A version is parsed strictly (at most 64 ASCII characters, `MAJOR.MINOR.PATCH` in digits) and
never quoted back: answers name the platform's minimum, which the policy holds, not what was sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from aicore.connections import ClientPusher
from aicore.errors import InvalidRequest, UpgradeRequired

MAX_CLIENT_CHARS = 64
_PLATFORM = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_VERSION = re.compile(r"(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})")


def _version(value: str) -> str:
    if _VERSION.fullmatch(value) is None:
        raise ValueError("a version is MAJOR.MINOR.PATCH in digits, as in 1.4.2")
    return value


def _platform(value: str) -> str:
    if _PLATFORM.fullmatch(value) is None:
        raise ValueError("a platform is 1-32 of a-z, 0-9, '_' or '-', starting with a letter")
    return value


Version = Annotated[str, AfterValidator(_version)]
Platform = Annotated[str, AfterValidator(_platform)]


def version_key(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in version.split("."))
    return major, minor, patch


class ClientVersion(BaseModel):
    model_config = ConfigDict(frozen=True)

    platform: str
    version: str

    @classmethod
    def parse(cls, raw: str, where: str) -> ClientVersion:
        """`<platform>/<version>`, e.g. `unity/1.4.2`; anything else is refused without quoting it."""
        platform, slash, version = raw.partition("/") if len(raw) <= MAX_CLIENT_CHARS else ("", "", "")
        if not slash or _PLATFORM.fullmatch(platform) is None or _VERSION.fullmatch(version) is None:
            raise InvalidRequest(
                f"{where} is '<platform>/<version>': a platform of 1-32 lower-case letters, digits, '_' "
                "or '-', and a version MAJOR.MINOR.PATCH in digits, as in 'unity/1.4.2'."
            )
        return cls(platform=platform, version=version)

    @property
    def key(self) -> tuple[int, int, int]:
        return version_key(self.version)


class PlatformPolicy(BaseModel):
    """One platform's versions: below `minimum` or in `blocked` is refused; below `recommended` warned."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minimum: Version | None = None
    recommended: Version | None = None
    blocked: tuple[Version, ...] = Field((), max_length=50)


class ClientPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    platforms: dict[Platform, PlatformPolicy] = Field(default_factory=dict, max_length=20)
    # A client that does not say what it is: admitted (False) or asked to upgrade (True).
    require_version: bool = False


class Verdict(StrEnum):
    CURRENT = "current"
    OUTDATED = "outdated"  # below the recommended version: served, with a warning


class Admission(BaseModel):
    verdict: Verdict
    message: str | None = None
    recommended: str | None = None


def admit(policy: ClientPolicy, client: ClientVersion | None) -> Admission:
    """Whether a client may connect (or call): raises `UpgradeRequired` if not; says if it is outdated."""
    if client is None:
        if policy.require_version:
            raise UpgradeRequired(
                "Say which client you are: '?client=<platform>/<version>' when connecting, or "
                "'X-Client-Version: <platform>/<version>' on HTTP.",
                {"minimum": None},
            )
        return Admission(verdict=Verdict.CURRENT)
    rules = policy.platforms.get(client.platform)
    if rules is None:
        return Admission(verdict=Verdict.CURRENT)
    minimum = rules.minimum
    if client.version in rules.blocked or (minimum is not None and client.key < version_key(minimum)):
        floor = f" {minimum} or later" if minimum else " a newer version"
        raise UpgradeRequired(
            f"This version of the {client.platform} client can no longer play here: update to{floor}.",
            {"platform": client.platform, "minimum": minimum},
        )
    recommended = rules.recommended
    if recommended is not None and client.key < version_key(recommended):
        return Admission(
            verdict=Verdict.OUTDATED,
            message=f"A newer {client.platform} client is out: {recommended}. This one will stop working "
            + (f"below {minimum}." if minimum else "when it is no longer supported."),
            recommended=recommended,
        )
    return Admission(verdict=Verdict.CURRENT)


CLIENT_QUERY = "client"  # `?client=<platform>/<version>` on the WebSocket URL
CLIENT_HEADER = "x-client-version"  # on HTTP
CLIENT_CONTEXT = "client"  # the authorizer's context carries the connection's client (checked)
WARNING_FRAME = "connection.warning"
MAX_WARNED = 10_000  # connections this container remembers having warned (memory bound)


def client_of(raw: str | None, where: str) -> ClientVersion | None:
    return None if raw is None else ClientVersion.parse(raw, where)


class ConnectionWarning(BaseModel):
    """`connection.warning`: the client works, and should be updated."""

    code: str
    message: str
    platform: str
    recommended: str


def warning_frame(warning: ConnectionWarning) -> dict[str, Any]:
    return {"type": WARNING_FRAME, "request_id": None, "data": warning.model_dump(mode="json")}


@dataclass
class OutdatedWarnings:
    """Tells a connection whose client is below its platform's recommended version, once (per
    container: a connection served by several containers may hear it once from each)."""

    warned: set[str] = field(default_factory=set)

    def warn(
        self, pusher: ClientPusher, connection_id: str, authorizer: Mapping[str, Any], policy: ClientPolicy
    ) -> None:
        if connection_id in self.warned:
            return
        raw = authorizer.get(CLIENT_CONTEXT)
        try:
            client = client_of(raw if isinstance(raw, str) else None, "The client")
            admission = admit(policy, client)
        except (InvalidRequest, UpgradeRequired):
            return  # refused at connect; a policy tightened since then is applied at the next connect
        if len(self.warned) >= MAX_WARNED:
            self.warned.clear()
        self.warned.add(connection_id)
        if client is not None and admission.verdict is Verdict.OUTDATED and admission.recommended:
            warning = ConnectionWarning(
                code="client_outdated",
                message=admission.message or "",
                platform=client.platform,
                recommended=admission.recommended,
            )
            pusher.send(connection_id, warning_frame(warning))
