"""One analytics record per event, the same in both worlds.

In the cloud, the analytics rule's input transformer (`INPUT_PATHS`, `INPUT_TEMPLATE`) turns an
EventBridge event into this record and Kinesis Data Firehose writes it, one JSON line each, under
`<prefix>dt=YYYY-MM-DD/` of the analytics bucket; Glue's table (`COLUMNS`, `DETAIL_FIELDS`) reads it
for Athena. Locally, the same rule, with the same transformer, puts it on a queue and
`aicore.local.analytics` writes it under `<folder>/dt=YYYY-MM-DD/`; DuckDB reads it with the same
columns. The day is the event's own (EventBridge's `time`, UTC), so a late delivery lands in its day.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

# Where the records go in the analytics bucket (and its partition column).
EVENTS_PREFIX = "events/"
PARTITION = "dt"
# The Glue table's name; the saved queries read `FROM events`.
TABLE = "events"

# What the rule's input transformer takes from an EventBridge event, and the record it writes.
# String values are quoted in the template (EventBridge escapes them); `detail` is a JSON object.
# `time` keeps EventBridge's name: moto, which runs this transformer locally, writes an event's
# time as ISO 8601 only under that key (else epoch seconds).
INPUT_PATHS: dict[str, str] = {
    "id": "$.id",
    "detail_type": "$.detail-type",
    "source": "$.source",
    "time": "$.time",
    "detail": "$.detail",
}
INPUT_TEMPLATE = (
    '{"id": "<id>", "detail_type": "<detail_type>", "source": "<source>", '
    '"time": "<time>", "detail": <detail>}'
)
# Firehose's dynamic partitioning reads the day from the record (jq): `dt=YYYY-MM-DD`.
PARTITION_QUERY = "{dt: .time[0:10]}"

Kind = Literal["string", "boolean", "double"]
# The record's top-level columns (Glue/Hive types) ...
COLUMNS: tuple[tuple[str, Kind], ...] = (
    ("id", "string"),
    ("detail_type", "string"),
    ("source", "string"),
    ("time", "string"),
)
# ... and the fields of `detail` the table reads (the union over the analytics events; an event
# without one reads NULL, fields not named here stay in the files, unread).
DETAIL_FIELDS: tuple[tuple[str, Kind], ...] = (
    ("world_id", "string"),
    ("correlation_id", "string"),
    ("occurred_at", "string"),
    ("event_id", "string"),  # quest and entitlement events: the same however often published
    ("session_id", "string"),
    ("npc_id", "string"),
    ("player_id", "string"),
    ("tier", "string"),
    ("fallback", "boolean"),
    ("fallback_reason", "string"),
    ("first_token_ms", "double"),
    ("quest_id", "string"),
    ("template_id", "string"),
    ("entitlement", "string"),
    ("purchase_id", "string"),
    ("reason", "string"),
)


def glue_detail_type() -> str:
    """`detail`'s type in the Glue table: `struct<world_id:string,...>`."""
    return "struct<" + ",".join(f"{name}:{kind}" for name, kind in DETAIL_FIELDS) + ">"


class AnalyticsRecord(BaseModel):
    """What a line of the store holds (the input transformer's output)."""

    model_config = ConfigDict(frozen=True)

    id: str
    detail_type: str
    source: str
    time: str
    detail: dict[str, Any]

    @property
    def day(self) -> str:
        """The partition: the event's UTC day, `YYYY-MM-DD`."""
        return datetime.fromisoformat(self.time.replace("Z", "+00:00")).strftime("%Y-%m-%d")


def record_of(event: Mapping[str, Any]) -> AnalyticsRecord:
    """The record the input transformer makes of an EventBridge event (tests and fakes use it)."""
    return AnalyticsRecord.model_validate({name: _at(event, path) for name, path in INPUT_PATHS.items()})


def _at(event: Mapping[str, Any], path: str) -> Any:
    value: Any = event
    for key in path.removeprefix("$.").split("."):
        value = value[key]
    return value
