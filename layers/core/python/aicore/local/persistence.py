"""Local state that survives a restart, a crash or a reboot: `aicore local --data-dir PATH`.

What persists: every DynamoDB item and every S3 object of the embedded AWS (moto keeps them in
memory). Queued events, running Step Functions executions and WebSocket connections do not.

- **Journal.** Each write that DynamoDB or S3 accepted (`PutItem`, `UpdateItem`, `DeleteItem`,
  `BatchWriteItem`, `TransactWriteItems`; S3 object `PUT`, `POST`, `DELETE`) is appended, as the
  request that made it, to `aws/journal-<generation>.jsonl` and fsynced before its answer leaves
  the server. Writes are applied and journaled under one lock, so the journal's order is the
  order they took effect in: a crash loses nothing a client was told had succeeded.
- **Snapshot.** After a restore, and at a clean stop, every item and object is written to a new
  `aws/snapshot.jsonl` (fsynced, then renamed into place) of the next generation: the old
  journal is then obsolete and removed. The snapshot holds requests too (`BatchWriteItem` of 25
  items, `PUT` of one object), so one replay reads both.
- **Restore.** At start: the snapshot, then the journal of its generation, replayed through
  moto in process (no sockets), before anything else runs.

A lock file keeps a second `aicore local` off a data directory in use.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from werkzeug.test import EnvironBuilder, run_wsgi_app

from aicore.observability import logger

FORMAT = 1
DYNAMODB_TARGET = "DynamoDB_20120810."
DYNAMODB_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
S3_WRITE_METHODS = frozenset({"PUT", "POST", "DELETE"})
BATCH_ITEMS = 25  # BatchWriteItem's limit
# Replayed requests need a signature's shape (moto routes on its service name), not a valid one.
_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=testing/20240101/{region}/{service}/aws4_request, "
    "SignedHeaders=host, Signature=0"
)

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class DataDirInUse(Exception):
    """Another `aicore local` holds the data directory."""


@dataclass(frozen=True)
class Recorded:
    """One write request, as it reached moto."""

    method: str
    path: str  # PATH_INFO, as the server decoded it
    raw_uri: str  # the path and query as sent
    query: str
    headers: dict[str, str]
    body: bytes

    def to_json(self) -> str:
        return json.dumps(
            {
                "method": self.method,
                "path": self.path,
                "raw_uri": self.raw_uri,
                "query": self.query,
                "headers": self.headers,
                "body": base64.b64encode(self.body).decode("ascii"),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, line: str) -> Recorded:
        data = json.loads(line)
        return cls(
            method=data["method"],
            path=data["path"],
            raw_uri=data["raw_uri"],
            query=data["query"],
            headers=data["headers"],
            body=base64.b64decode(data["body"]),
        )

    def environ(self) -> Environ:
        builder = EnvironBuilder(
            path=self.path,
            method=self.method,
            headers=list(self.headers.items()),
            data=self.body,
            query_string=self.query,
        )
        environ: Environ = builder.get_environ()
        environ.update({"PATH_INFO": self.path, "REQUEST_URI": self.raw_uri, "RAW_URI": self.raw_uri})
        return environ


def is_persisted_write(environ: Environ) -> bool:
    """Whether a request changes DynamoDB items or S3 objects (the state that is journaled)."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target.startswith(DYNAMODB_TARGET):
        return target.removeprefix(DYNAMODB_TARGET) in DYNAMODB_WRITES
    if "/s3/aws4_request" not in str(environ.get("HTTP_AUTHORIZATION", "")):
        return False
    if environ.get("REQUEST_METHOD") not in S3_WRITE_METHODS:
        return False
    _, _, key = str(environ.get("PATH_INFO", "")).lstrip("/").partition("/")
    return bool(key) or "delete" in str(environ.get("QUERY_STRING", ""))  # an object, or DeleteObjects


def record(environ: Environ) -> Recorded:
    """The request's facts, its body read (and put back for moto to read again)."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH")
    body = (
        stream.read(int(length)) if length else stream.read() if environ.get("wsgi.input_terminated") else b""
    )
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    headers = {
        key.removeprefix("HTTP_").replace("_", "-").title(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = str(environ["CONTENT_TYPE"])
    path = str(environ.get("PATH_INFO", "/"))
    query = str(environ.get("QUERY_STRING", ""))
    raw_uri = str(
        environ.get("RAW_URI") or environ.get("REQUEST_URI") or (path + (f"?{query}" if query else ""))
    )
    return Recorded(str(environ["REQUEST_METHOD"]), path, raw_uri, query, headers, body)


class _Journal:
    """Append-only, one JSON line per write, each fsynced before the write is answered."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def append(self, write: Recorded) -> None:
        self._file.write(write.to_json() + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class Restored:
    generation: int
    replayed: int
    failed: int
    seconds: float


class AwsStateStore:
    """The journal and snapshots of one data directory (`<data-dir>/aws`)."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / "aws"
        self._lock_path = data_dir / "aicore.lock"
        self._lock_file: IO[str] | None = None
        self._journal: _Journal | None = None
        self._generation = 0
        self._writes = threading.Lock()
        self.restored = False  # a snapshot before the restore would overwrite the data with nothing

    @property
    def snapshot_path(self) -> Path:
        return self.directory / "snapshot.jsonl"

    def journal_path(self, generation: int) -> Path:
        return self.directory / f"journal-{generation}.jsonl"

    def open(self) -> None:
        """Create the directory and take its lock; `DataDirInUse` when another runtime holds it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._lock_path.open("a+", encoding="utf-8")
        if not _try_lock(self._lock_file):
            self._lock_file.close()
            self._lock_file = None
            raise DataDirInUse(
                f"The data directory {self._lock_path.parent} is in use by another aicore local: "
                "stop that one first, or pick another --data-dir."
            )

    def close(self) -> None:
        with self._writes:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the lock
            self._lock_file = None

    # --- while serving -------------------------------------------------------------------------

    def journaling(self, app: WsgiApp) -> WsgiApp:
        """`app`, with every persisted write applied and journaled in one order."""

        def journaled(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            if self._journal is None or not is_persisted_write(environ):
                return app(environ, start_response)
            write = record(environ)
            statuses: list[str] = []

            def capture(status: str, headers: Any, exc_info: Any = None) -> Any:
                statuses.append(status)
                return start_response(status, headers, exc_info)

            with self._writes:
                answer = app(environ, capture)  # moto's Flask apps answer in full before returning
                if statuses and statuses[0].startswith("2") and self._journal is not None:
                    self._journal.append(write)
            return answer

        return journaled

    # --- at start ------------------------------------------------------------------------------

    def restore(self, app: WsgiApp) -> Restored:
        """Replay the snapshot and its generation's journal into `app` (moto, not journaled)."""
        started = time.perf_counter()
        generation, snapshot = self._read_snapshot()
        replayed = failed = 0
        for write in [*snapshot, *_read_lines(self.journal_path(generation))]:
            status = _replay(app, write)
            replayed += 1
            if not status.startswith("2"):
                failed += 1
                logger.warning(
                    "A persisted write did not replay", extra={"status": status, "path": write.path}
                )
        self._generation = generation
        self.restored = True
        return Restored(generation, replayed, failed, time.perf_counter() - started)

    def checkpoint(self, writes: Iterator[Recorded]) -> int:
        """A new snapshot of everything (`writes`), then a new, empty journal: returns its generation."""
        if not self.restored:
            raise RuntimeError("restore the data directory before taking a snapshot of it")
        generation = self._generation + 1
        temporary = self.directory / "snapshot.jsonl.tmp"
        with self._writes:
            with temporary.open("w", encoding="utf-8") as file:
                file.write(json.dumps({"format": FORMAT, "generation": generation}) + "\n")
                for write in writes:
                    file.write(write.to_json() + "\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.snapshot_path)
            _fsync_directory(self.directory)
            if self._journal is not None:
                self._journal.close()
            self._journal = _Journal(self.journal_path(generation))
            for old in self.directory.glob("journal-*.jsonl"):
                if old != self._journal.path:
                    old.unlink()
            self._generation = generation
        return generation

    def _read_snapshot(self) -> tuple[int, list[Recorded]]:
        if not self.snapshot_path.exists():
            return 0, []
        lines = self.snapshot_path.read_text(encoding="utf-8").splitlines()
        header = json.loads(lines[0])
        if header.get("format") != FORMAT:
            raise ValueError(f"{self.snapshot_path} has format {header.get('format')}, not {FORMAT}")
        return int(header["generation"]), [Recorded.from_json(line) for line in lines[1:] if line]


def snapshot_writes(dynamodb: Any, s3: Any, region: str) -> Iterator[Recorded]:
    """Every item of every table and every object of every bucket, as the requests that recreate them."""
    for table in _paged(
        dynamodb.list_tables, "TableNames", "ExclusiveStartTableName", "LastEvaluatedTableName"
    ):
        items = list(_paged(functools.partial(dynamodb.scan, TableName=table), "Items"))
        for start in range(0, len(items), BATCH_ITEMS):
            batch = [{"PutRequest": {"Item": item}} for item in items[start : start + BATCH_ITEMS]]
            yield _dynamodb_request("BatchWriteItem", {"RequestItems": {table: batch}}, region)
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for listed in page.get("Contents", []):
                yield _s3_put(s3, name, listed["Key"], region)


def _dynamodb_request(operation: str, body: dict[str, Any], region: str) -> Recorded:
    data = json.dumps(body, default=_wire_bytes).encode()
    headers = {
        "X-Amz-Target": DYNAMODB_TARGET + operation,
        "Content-Type": "application/x-amz-json-1.0",
        "Authorization": _AUTHORIZATION.format(region=region, service="dynamodb"),
    }
    return Recorded("POST", "/", "/", "", headers, data)


def _s3_put(s3: Any, bucket: str, key: str, region: str) -> Recorded:
    stored = s3.get_object(Bucket=bucket, Key=key)
    headers = {"Authorization": _AUTHORIZATION.format(region=region, service="s3")}
    for header, field in (("Content-Type", "ContentType"), ("Content-Encoding", "ContentEncoding")):
        if stored.get(field):
            headers[header] = stored[field]
    for name, value in (stored.get("Metadata") or {}).items():
        headers[f"X-Amz-Meta-{name}"] = value
    path = f"/{bucket}/{key}"
    raw = quote(path, safe="/~")
    return Recorded("PUT", path, raw, "", headers, stored["Body"].read())


def _wire_bytes(value: Any) -> str:
    """DynamoDB's JSON wire format carries binary attributes as base64 text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot persist a {type(value).__name__}")


def _paged(
    call: Callable[..., Any],
    items: str,
    start_key: str = "ExclusiveStartKey",
    next_key: str = "LastEvaluatedKey",
) -> Iterator[Any]:
    arguments: dict[str, Any] = {}
    while True:
        page = call(**arguments)
        yield from page.get(items, [])
        if not page.get(next_key):
            return
        arguments[start_key] = page[next_key]


def _replay(app: WsgiApp, write: Recorded) -> str:
    answer, status, _ = run_wsgi_app(app, write.environ())
    for _ in answer:  # drain: some apps finish their work while the body is read
        pass
    close = getattr(answer, "close", None)
    if close is not None:
        close()
    return str(status)


def _read_lines(path: Path) -> list[Recorded]:
    """The journal's writes; a last line cut by a crash (its write was never answered) is left out."""
    if not path.exists():
        return []
    writes = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            writes.append(Recorded.from_json(line))
        except (ValueError, KeyError):
            logger.warning(
                "Skipping an unreadable journal line", extra={"journal": str(path), "line": number}
            )
    return writes


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable (POSIX); where directories cannot be opened, the rename is all we get."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _try_lock(file: IO[str]) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows: no advisory lock; the user keeps one runtime per directory
        return True
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
