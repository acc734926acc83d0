"""One typed configuration per environment, read from `cdk.json` context. No other sizes exist.

`cdk.json` holds, under `aicore:environments`, one entry per environment (dev, staging, prod):
Lambda memory, concurrency and deployment settings, log retention, deletion protection, API
throttling, event retries and archive retention, archive lifecycle, endpoint instance counts and
scaling bounds, alarm settings. Account and region come from `-c account=`/`-c region=`, then the
environment's own entry, then the usual environment variables, then `aicore:fallbackRegion`;
a `production` environment takes them from its own entry only, and refuses to synthesize
without them (and without someone to tell when an alarm fires).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aicore.identity.issuers import parse_trusted_issuers
from aicore.inputs import is_identifier
from aicore.topology import scaled_reservation

ENVIRONMENTS_KEY = "aicore:environments"
FALLBACK_REGION_KEY = "aicore:fallbackRegion"

# CloudWatch Logs accepts only these retention periods.
RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


class ConfigError(ValueError):
    """The context does not describe a usable environment; the message says what to change."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# How a new function version takes traffic from the old one (CodeDeploy, on the `live` alias of the
# functions the topology marks `gradual_deployment`); all_at_once: the alias just moves.
Deployment = Literal[
    "all_at_once",
    "canary_10_percent_5_minutes",
    "canary_10_percent_10_minutes",
    "canary_10_percent_15_minutes",
    "linear_10_percent_every_1_minute",
    "linear_10_percent_every_2_minutes",
]
# Lambda keeps at least this much of an account's concurrency unreserved.
UNRESERVED_MINIMUM = 100


class LambdaSettings(_Frozen):
    memory_factor: float = Field(gt=0, le=10)  # times each function's memory_mb in the topology
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]
    # Times each function's reserved_concurrency in the topology; 0: reserve nothing (new accounts
    # have a concurrency limit of 10, where any reservation fails the deploy).
    reserved_concurrency_factor: float = Field(ge=0, le=10)
    deployment: Deployment


class Throttle(_Frozen):
    rate_limit: float = Field(gt=0)  # steady requests (or messages) per second for the stage
    burst_limit: int = Field(gt=0)


class IdentitySettings(_Frozen):
    """Player identity (`aicore.identity`): the worlds players may sign in to (the first is the
    default), the trusted issuers `POST /auth/exchange` accepts (`aicore.identity.issuers`), how
    long an access token lives, and the throttle of each unauthenticated route (logins, JWKS,
    status): a flood of logins is refused there, before it reaches a function."""

    worlds: list[str] = Field(min_length=1)
    trusted_issuers: list[dict[str, Any]] = Field(default_factory=list)
    access_token_ttl_s: int = Field(900, ge=60, le=3600)
    unauthenticated_throttle: Throttle

    @field_validator("trusted_issuers")
    @classmethod
    def _issuers(cls, issuers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        parse_trusted_issuers(json.dumps(issuers))  # the function's own parser: refused at synth
        return issuers

    @field_validator("worlds")
    @classmethod
    def _world_ids(cls, worlds: list[str]) -> list[str]:
        if any(not is_identifier(w) or len(w) > 64 for w in worlds):
            raise ValueError("world ids are 1 to 64 letters, digits, '_', '.', ':' or '-'")
        return worlds


class EventSettings(_Frozen):
    archive_retention_days: int = Field(ge=1)
    retry_attempts: int = Field(ge=0, le=185)  # EventBridge and Scheduler target retries
    max_event_age_s: int = Field(ge=60, le=86400)
    dlq_retention_days: int = Field(ge=1, le=14)


# S3 bills Standard-IA and Glacier Instant Retrieval objects as at least 128 KiB, and by default
# (since September 2024) does not transition objects smaller than that at all.
MINIMUM_BILLABLE_BYTES = 128 * 1024


class ArchiveLifecycle(_Frozen):
    infrequent_access_after_days: int = Field(ge=30)  # S3 moves nothing to Standard-IA before 30 days
    glacier_ir_after_days: int = Field(ge=90)
    noncurrent_expire_after_days: int = Field(ge=1)
    # Archives between this size and 128 KiB go straight to Glacier IR (skipping Standard-IA,
    # which would bill them as 128 KiB at a price that only pays above ~70 KB); smaller ones stay
    # in Standard, where they cost less than the 128 KiB Glacier IR would bill (README: What it costs).
    small_objects_min_bytes: int = Field(ge=0, lt=MINIMUM_BILLABLE_BYTES)

    @model_validator(mode="after")
    def _ordered(self) -> ArchiveLifecycle:
        if self.glacier_ir_after_days < self.infrequent_access_after_days + 30:
            raise ValueError(
                "glacier_ir_after_days must be at least 30 days after infrequent_access_after_days"
            )
        return self


class EndpointScaling(_Frozen):
    """Instances of one tier; one model copy per instance (each g5 instance has one GPU)."""

    initial_instances: int = Field(ge=1)
    min_instances: int = Field(ge=0)  # 0: the tier scales to zero when idle
    max_instances: int = Field(ge=1)

    @model_validator(mode="after")
    def _bounds(self) -> EndpointScaling:
        if self.min_instances > self.max_instances:
            raise ValueError("min_instances exceeds max_instances")
        if not max(self.min_instances, 1) <= self.initial_instances <= self.max_instances:
            raise ValueError("initial_instances must lie between max(min_instances, 1) and max_instances")
        return self


Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
HttpsUrl = Annotated[str, Field(pattern=r"^https://\S+$")]


class AlarmSettings(_Frozen):
    """Who hears an alarm (every address and URL is subscribed to the topic) and when they do."""

    email: list[Email] = Field(default_factory=list)
    https: list[HttpsUrl] = Field(default_factory=list)  # e.g. a chat or on-call webhook (SNS confirms it)
    lambda_errors_per_5_min: int = Field(ge=1)
    throttles_per_5_min: int = Field(ge=1)  # Lambda throttles per function, DynamoDB per table
    fallbacks_per_5_min: int = Field(ge=1)  # NPC turns a tier answered because the one before failed
    websocket_errors_per_5_min: int = Field(ge=1)

    @field_validator("email", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if value is None:
            return []
        return [value] if isinstance(value, str) else value

    @property
    def subscribers(self) -> int:
        return len(self.email) + len(self.https)


class EnvironmentConfig(_Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9]{1,11}$")
    # Pinned to its own account and region (from cdk.json only) and alarms with a subscriber.
    production: bool = False
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    lambda_: LambdaSettings = Field(alias="lambda")
    log_retention_days: int
    deletion_protection: bool
    websocket_throttle: Throttle
    http_throttle: Throttle
    identity: IdentitySettings
    events: EventSettings
    archive: ArchiveLifecycle
    endpoints: dict[str, EndpointScaling]
    alarms: AlarmSettings
    api_gateway_cloudwatch_role: bool

    @model_validator(mode="after")
    def _retention(self) -> EnvironmentConfig:
        if self.log_retention_days not in RETENTION_DAYS:
            raise ValueError(f"log_retention_days must be one of {RETENTION_DAYS}")
        return self

    @model_validator(mode="after")
    def _someone_hears_production_alarms(self) -> EnvironmentConfig:
        if self.production and self.alarms.subscribers == 0:
            raise ValueError(
                f"{self.name} is a production environment: set alarms.email (a list of addresses) "
                "or alarms.https in cdk.json, so that an alarm reaches someone"
            )
        return self

    def memory_mb(self, topology_memory_mb: int) -> int:
        """A function's memory in this environment: Lambda allows 128..10240 MB."""
        return min(10240, max(128, round(topology_memory_mb * self.lambda_.memory_factor)))

    def reserved_concurrency(self, topology_reserved: int | None) -> int | None:
        """A function's reserved concurrency here: None (none reserved) or at least 1."""
        return scaled_reservation(topology_reserved, self.lambda_.reserved_concurrency_factor)


def _first(*values: Any) -> str | None:
    return next((str(v) for v in values if v not in (None, "")), None)


def environment_names(context: Mapping[str, Any]) -> list[str]:
    environments = context.get(ENVIRONMENTS_KEY)
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigError(f"cdk.json has no '{ENVIRONMENTS_KEY}' context")
    return list(environments)


def selected_environments(requested: str | None, context: Mapping[str, Any]) -> list[str]:
    """`-c env=dev`, `-c env=dev,prod` or `-c env=all`."""
    known = environment_names(context)
    if not requested:
        raise ConfigError(f"say which environment to synthesize: -c env=<{'|'.join(known)}|all>")
    names = known if requested == "all" else [n.strip() for n in requested.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ConfigError(
            f"unknown environment {', '.join(unknown or [requested])}: choose from {', '.join(known)}"
        )
    return names


def load_environment(
    name: str, context: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> EnvironmentConfig:
    """The typed config of `name`; `context` is the CDK context, `environ` the process environment."""
    environ = environ if environ is not None else {}
    environments = context.get(ENVIRONMENTS_KEY) or {}
    raw = environments.get(name)
    if not isinstance(raw, Mapping):
        raise ConfigError(f"cdk.json context '{ENVIRONMENTS_KEY}' has no environment {name!r}")
    if raw.get("production"):
        return _validated(name, raw, _pinned(name, raw, context))
    account = _first(
        context.get("account"),
        raw.get("account"),
        environ.get("CDK_DEPLOY_ACCOUNT"),
        environ.get("CDK_DEFAULT_ACCOUNT"),
    )
    region = _first(
        context.get("region"),
        raw.get("region"),
        environ.get("CDK_DEPLOY_REGION"),
        environ.get("CDK_DEFAULT_REGION"),
        environ.get("AWS_REGION"),
        environ.get("AWS_DEFAULT_REGION"),
        context.get(FALLBACK_REGION_KEY),
    )
    if region is None:
        raise ConfigError(
            f"no region for {name}: pass -c region=..., set AWS_REGION, or set {FALLBACK_REGION_KEY}"
        )
    return _validated(name, raw, (account, region))


def _pinned(name: str, raw: Mapping[str, Any], context: Mapping[str, Any]) -> tuple[str, str]:
    """A production environment's account and region: its own entry's, and nobody else's."""
    account, region = _first(raw.get("account")), _first(raw.get("region"))
    if account is None or region is None:
        raise ConfigError(
            f"{name} is a production environment: pin it in cdk.json, context "
            f'"{ENVIRONMENTS_KEY}" -> "{name}" -> "account" (12 digits) and "region" (e.g. "eu-west-1"); '
            f"today they are {raw.get('account')!r} and {raw.get('region')!r}. It deploys only there, "
            "whatever credentials or variables say."
        )
    for key, pinned in (("account", account), ("region", region)):
        asked = _first(context.get(key))
        if asked is not None and asked != pinned:
            raise ConfigError(f"-c {key}={asked} contradicts {name}'s pinned {key} {pinned} in cdk.json")
    return account, region


def _validated(name: str, raw: Mapping[str, Any], where: tuple[str | None, str]) -> EnvironmentConfig:
    account, region = where
    try:
        return EnvironmentConfig.model_validate({**raw, "name": name, "account": account, "region": region})
    except ValidationError as error:
        raise ConfigError(f"cdk.json environment {name!r} is invalid:\n{error}") from error
