"""The analytics store on a laptop: what Firehose and Athena do in the cloud, with files and DuckDB.

`AnalyticsFiles` is the analytics rule's local target: each record (already shaped by the rule's
input transformer, as in the cloud) is appended as a JSON line to `<folder>/dt=YYYY-MM-DD/<run>.jsonl`.
`run_query` reads that folder with DuckDB under the Glue table's columns and runs a saved query.
Delivery is at least once here as there: the saved queries count each event id once.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aicore.analytics.queries import SavedQuery
from aicore.analytics.records import COLUMNS, DETAIL_FIELDS, PARTITION, TABLE, AnalyticsRecord, Kind

DUCKDB_TYPES: dict[Kind, str] = {"string": "VARCHAR", "boolean": "BOOLEAN", "double": "DOUBLE"}
# Athena's functions the saved queries use that DuckDB spells differently (exact here, approximate there).
ATHENA_MACROS = ("CREATE MACRO approx_percentile(x, p) AS quantile_cont(x, p)",)
DEFAULT_PORT = 8000


def default_folder(port: int = DEFAULT_PORT) -> Path:
    """Where `aicore local` without `--data-dir` keeps analytics: one folder per gateway port (only
    one runtime holds a port at a time), emptied at each start, as the rest of its state is."""
    return Path(tempfile.gettempdir()) / f"aicore-local-{port}" / "analytics"


class AnalyticsFiles:
    """Appends records to daily files; one file per run (as Firehose writes an object per buffer)."""

    def __init__(self, folder: Path, *, empty_first: bool = False) -> None:
        self.folder = folder
        if empty_first and folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._file = f"events-{uuid.uuid4().hex[:12]}.jsonl"
        self._lock = threading.Lock()

    def write(self, body: dict[str, Any]) -> None:
        """Append one record to its day's file; a body that is not a record raises (and stays queued)."""
        record = AnalyticsRecord.model_validate(body)
        day_folder = self.folder / f"{PARTITION}={record.day}"
        line = json.dumps(record.model_dump(), separators=(",", ":"), ensure_ascii=False) + "\n"
        with self._lock:
            day_folder.mkdir(exist_ok=True)
            path = day_folder / self._file
            with path.open("a", encoding="utf-8") as file:
                file.write(line)


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def table(self) -> str:
        """A plain text table: a header, a rule, a line per row."""
        cells = [[_cell(v) for v in row] for row in self.rows]
        widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(self.columns)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
        return "\n".join(line.rstrip() for line in lines)


def run_query(folder: Path, query: SavedQuery) -> QueryResult:
    """Run a saved query over the records under `folder` (none yet: an empty table)."""
    import duckdb  # the `local` extra: never in the Lambda layer

    with duckdb.connect() as connection:
        for macro in ATHENA_MACROS:
            connection.execute(macro)
        connection.execute(_table_sql(folder))
        cursor = connection.execute(query.sql)
        columns = [d[0] for d in cursor.description or ()]
        return QueryResult(columns, cursor.fetchall())


def _table_sql(folder: Path) -> str:
    detail = ", ".join(f"{name} {DUCKDB_TYPES[kind]}" for name, kind in DETAIL_FIELDS)
    columns = {name: DUCKDB_TYPES[kind] for name, kind in COLUMNS} | {"detail": f"STRUCT({detail})"}
    if not any(folder.glob(f"{PARTITION}=*/*.jsonl")):
        declared = ", ".join(f"{name} {kind}" for name, kind in columns.items())
        return f"CREATE TABLE {TABLE} ({declared}, {PARTITION} VARCHAR)"
    files = str(folder / f"{PARTITION}=*" / "*.jsonl").replace("'", "''")
    return (
        f"CREATE VIEW {TABLE} AS SELECT * FROM read_json('{files}', format = 'newline_delimited', "
        f"columns = {_duckdb_map(columns)}, hive_partitioning = true, "
        f"hive_types = {{'{PARTITION}': 'VARCHAR'}})"
    )


def _duckdb_map(values: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in values.items()) + "}"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
