"""--data-dir: writes are journaled as they are applied, and replayed (snapshot, then journal) at start.

The store wraps a WSGI app (moto, in `aicore local`); here a small key-value app stands in for it,
so the tests run without sockets. The end-to-end proof with moto, a crash and a restart is in
tests/e2e/test_local_lifecycle.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from aicore.local.persistence import (
    AwsStateStore,
    DataDirInUse,
    Recorded,
    is_persisted_write,
)

DYNAMODB_AUTH = "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/dynamodb/aws4_request"
S3_AUTH = "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/s3/aws4_request"


class KeyValueApp:
    """Answers DynamoDB-shaped requests: PutItem/UpdateItem ({"key", "value"}), GetItem; the rest 400."""

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        operation = str(environ.get("HTTP_X_AMZ_TARGET", "")).rpartition(".")[2]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
        if operation == "PutItem":
            self.items[body["key"]] = body["value"]
        elif operation == "UpdateItem":  # an increment: replaying it twice would count twice
            self.items[body["key"]] = self.items.get(body["key"], 0) + body["value"]
        elif operation != "GetItem":
            start_response("400 Bad Request", [])
            return [b"{}"]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(self.items.get(body.get("key"))).encode()]


def call(app: Any, operation: str, **body: Any) -> str:
    environ = EnvironBuilder(
        method="POST",
        path="/",
        headers=[("X-Amz-Target", f"DynamoDB_20120810.{operation}"), ("Authorization", DYNAMODB_AUTH)],
        data=json.dumps(body),
        content_type="application/x-amz-json-1.0",
    ).get_environ()
    answer, status, _ = run_wsgi_app(app, environ)
    b"".join(answer)
    return str(status)


def snapshot_of(app: KeyValueApp) -> Iterator[Recorded]:
    for key, value in app.items.items():
        body = json.dumps({"key": key, "value": value}).encode()
        headers = {"X-Amz-Target": "DynamoDB_20120810.PutItem", "Authorization": DYNAMODB_AUTH}
        yield Recorded("POST", "/", "/", "", headers, body)


def started(data_dir: Path) -> tuple[AwsStateStore, KeyValueApp, Any]:
    """A store opened and restored into a fresh app, as `aicore local` starts: (store, app, served app)."""
    store, app = AwsStateStore(data_dir), KeyValueApp()
    store.open()
    store.restore(app)
    store.checkpoint(snapshot_of(app))
    return store, app, store.journaling(app)


def test_writes_survive_a_crash_through_the_journal(tmp_path: Path) -> None:
    # Given a runtime that wrote, counted and read
    store, _, served = started(tmp_path)
    assert call(served, "PutItem", key="session", value="ses_1") == "200 OK"
    call(served, "UpdateItem", key="turns", value=1)
    call(served, "UpdateItem", key="turns", value=1)
    call(served, "GetItem", key="session")

    # When it crashes (no snapshot at stop) and a new one starts on the same directory
    store.close()
    _, app, _ = started(tmp_path)

    # Then every write is back, each applied once, in order
    assert app.items == {"session": "ses_1", "turns": 2}


def test_a_clean_checkpoint_starts_a_new_generation_and_drops_the_old_journal(tmp_path: Path) -> None:
    store, app, served = started(tmp_path)
    call(served, "UpdateItem", key="turns", value=5)
    store.checkpoint(snapshot_of(app))
    store.close()

    assert [p.name for p in sorted((tmp_path / "aws").glob("journal-*"))] == ["journal-2.jsonl"]
    assert (tmp_path / "aws" / "journal-2.jsonl").read_text() == ""
    _, restarted, _ = started(tmp_path)
    assert restarted.items == {"turns": 5}  # from the snapshot, not counted twice


def test_only_successful_writes_are_journaled(tmp_path: Path) -> None:
    store, _, served = started(tmp_path)
    call(served, "GetItem", key="x")
    call(served, "Explode", key="x")  # not a write the store knows: not journaled
    call(served, "PutItem", key="x", value=1)
    store.close()

    journal = (tmp_path / "aws" / "journal-1.jsonl").read_text().splitlines()
    assert len(journal) == 1
    assert json.loads(journal[0])["headers"]["X-Amz-Target"] == "DynamoDB_20120810.PutItem"


def test_a_line_torn_by_a_crash_is_skipped(tmp_path: Path) -> None:
    store, _, served = started(tmp_path)
    call(served, "PutItem", key="kept", value=1)
    store.close()
    with (tmp_path / "aws" / "journal-1.jsonl").open("a") as journal:
        journal.write('{"method": "POST", "pa')  # the write was never answered

    _, app, _ = started(tmp_path)

    assert app.items == {"kept": 1}


def test_a_second_runtime_cannot_take_a_data_dir_in_use(tmp_path: Path) -> None:
    first = AwsStateStore(tmp_path)
    first.open()

    with pytest.raises(DataDirInUse, match="in use by another aicore local"):
        AwsStateStore(tmp_path).open()
    first.close()
    AwsStateStore(tmp_path).open()  # free again


def test_no_snapshot_before_the_data_is_restored(tmp_path: Path) -> None:
    store = AwsStateStore(tmp_path)
    store.open()

    with pytest.raises(RuntimeError, match="restore"):
        store.checkpoint(iter([]))


@pytest.mark.parametrize(
    ("method", "path", "query", "auth", "target", "persisted"),
    [
        ("POST", "/", "", DYNAMODB_AUTH, "DynamoDB_20120810.PutItem", True),
        ("POST", "/", "", DYNAMODB_AUTH, "DynamoDB_20120810.TransactWriteItems", True),
        ("POST", "/", "", DYNAMODB_AUTH, "DynamoDB_20120810.Query", False),
        ("POST", "/", "", DYNAMODB_AUTH, "DynamoDB_20120810.CreateTable", False),  # from the topology
        ("PUT", "/archive/sessions/s1.json.gz", "", S3_AUTH, "", True),
        ("DELETE", "/archive/sessions/s1.json.gz", "", S3_AUTH, "", True),
        ("POST", "/archive", "delete", S3_AUTH, "", True),
        ("GET", "/archive/sessions/s1.json.gz", "", S3_AUTH, "", False),
        ("PUT", "/archive", "", S3_AUTH, "", False),  # a bucket: from the topology
        ("POST", "/", "", "", "AmazonSQS.SendMessage", False),
    ],
)
def test_what_counts_as_persisted_state(
    method: str, path: str, query: str, auth: str, target: str, persisted: bool
) -> None:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_AUTHORIZATION": auth,
        "HTTP_X_AMZ_TARGET": target,
    }

    assert is_persisted_write(environ) is persisted
