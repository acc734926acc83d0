"""Events on the bus: every detail carries world, correlation id, time and schema version."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field

from aicore.clock import utc_now

SCHEMA_VERSION = "1"


class EventDetail(BaseModel):
    world_id: str
    correlation_id: str
    occurred_at: str = Field(default_factory=utc_now)
    schema_version: str = SCHEMA_VERSION


class PublishFailed(RuntimeError):
    pass


class EventPublisher(Protocol):
    def publish(self, source: str, detail_type: str, detail: EventDetail) -> None: ...
