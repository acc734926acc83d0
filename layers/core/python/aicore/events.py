"""Events on the bus: every detail carries world, correlation id, time and schema version."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field

from aicore import aws
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


class EventBridgePublisher:
    def __init__(self, bus_name: str) -> None:
        self._bus = bus_name
        self._client = aws.client("events")

    def publish(self, source: str, detail_type: str, detail: EventDetail) -> None:
        entry = {
            "EventBusName": self._bus,
            "Source": source,
            "DetailType": detail_type,
            "Detail": detail.model_dump_json(),
        }
        result = self._client.put_events(Entries=[entry])
        if result.get("FailedEntryCount"):
            raise PublishFailed(f"EventBridge refused {detail_type}: {result['Entries'][0]}")
