"""One typed configuration per environment, read from `cdk.json` context. No other sizes exist.

`cdk.json` holds, under `aicore:environments`, one entry per environment (dev, staging, prod):
Lambda memory factor and log level, log retention, deletion protection, API throttling, event
retries and archive retention, archive lifecycle, endpoint instance counts and scaling bounds,
alarm settings. Account and region come from `-c account=`/`-c region=`, then the environment's
own entry, then the usual environment variables, then `aicore:fallbackRegion`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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


class LambdaSettings(_Frozen):
    memory_factor: float = Field(gt=0, le=10)  # times each function's memory_mb in the topology
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Throttle(_Frozen):
    rate_limit: float = Field(gt=0)  # steady requests (or messages) per second for the stage
    burst_limit: int = Field(gt=0)


class EventSettings(_Frozen):
    archive_retention_days: int = Field(ge=1)
    retry_attempts: int = Field(ge=0, le=185)  # EventBridge and Scheduler target retries
    max_event_age_s: int = Field(ge=60, le=86400)
    dlq_retention_days: int = Field(ge=1, le=14)


class ArchiveLifecycle(_Frozen):
    infrequent_access_after_days: int = Field(ge=30)  # S3 moves nothing to Standard-IA before 30 days
    glacier_ir_after_days: int = Field(ge=90)
    noncurrent_expire_after_days: int = Field(ge=1)

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


class AlarmSettings(_Frozen):
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    lambda_errors_per_5_min: int = Field(ge=1)


class EnvironmentConfig(_Frozen):
    name: str = Field(pattern=r"^[a-z][a-z0-9]{1,11}$")
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    lambda_: LambdaSettings = Field(alias="lambda")
    log_retention_days: int
    deletion_protection: bool
    websocket_throttle: Throttle
    http_throttle: Throttle
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

    def memory_mb(self, topology_memory_mb: int) -> int:
        """A function's memory in this environment: Lambda allows 128..10240 MB."""
        return min(10240, max(128, round(topology_memory_mb * self.lambda_.memory_factor)))


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
    try:
        return EnvironmentConfig.model_validate({**raw, "name": name, "account": account, "region": region})
    except ValidationError as error:
        raise ConfigError(f"cdk.json environment {name!r} is invalid:\n{error}") from error
