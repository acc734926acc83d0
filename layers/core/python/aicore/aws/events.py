"""Publishing on the EventBridge bus."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aicore import aws
from aicore.events import EventDetail, PublishFailed

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef


class EventBridgePublisher:
    def __init__(self, bus_name: str) -> None:
        self._bus = bus_name
        self._client = aws.events_client()

    def publish(self, source: str, detail_type: str, detail: EventDetail) -> None:
        entry: PutEventsRequestEntryTypeDef = {
            "EventBusName": self._bus,
            "Source": source,
            "DetailType": detail_type,
            "Detail": detail.model_dump_json(),
        }
        result = self._client.put_events(Entries=[entry])
        if result.get("FailedEntryCount"):
            raise PublishFailed(f"EventBridge refused {detail_type}: {result['Entries'][0]}")
