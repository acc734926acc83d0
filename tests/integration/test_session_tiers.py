"""Forever sessions against the local backend (moto server, Step Functions running our ASL, the model).

Concurrency, a 10,000-message session across hot and warm, archive and rehydrate flows byte for
byte, the dormancy sweep on its schedule, a failed archive thawed, writes racing an archive, and
the summarizer compacting with the local model.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key

from aicore import wiring
from aicore.auth import Caller, Role
from aicore.aws.sessions.store import DynamoSessionStore
from aicore.errors import Conflict
from aicore.local.embedded_aws import aws_client
from aicore.local.long_sessions import seed_long_session
from aicore.local.runtime import LocalRuntime
from aicore.sessions.models import Participant, ParticipantKind, SessionHead, StorageTier
from aicore.sessions.service import NewMessages, NewSession, SessionService, SpokenLine
from aicore.settings import get_settings
from aicore.topology import SESSION_ARCHIVE_FLOW, SESSION_REHYDRATE_FLOW, TOPOLOGY
from tests.waiting import eventually, finished_execution

pytestmark = pytest.mark.model

STUDIO = Caller(subject="tools", world_id="demo", roles=(Role.STUDIO,))
MIRA = Participant(id="mira", kind=ParticipantKind.NPC)
LINES_EACH = 3  # 50 writers x 3 = 150 lines: under the compaction threshold, so the model stays free


@pytest.fixture
def store(runtime: LocalRuntime) -> DynamoSessionStore:
    return wiring.sessions()


@pytest.fixture
def service(runtime: LocalRuntime) -> SessionService:
    return wiring.session_service()


def _run_flow(runtime: LocalRuntime, machine: str, payload: dict[str, Any]) -> dict[str, Any]:
    client = aws_client("stepfunctions", runtime.aws.url)
    arn = runtime_arn(machine)
    execution = client.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=json.dumps(payload))
    return finished_execution(client, execution["executionArn"], timeout_s=60)


def runtime_arn(machine: str) -> str:
    return os.environ[TOPOLOGY.state_machine(machine).env_var]


def _all_messages(service: SessionService, session_id: str, limit: int = 200) -> list[tuple[int, str]]:
    """Every message, walking pages back from the newest, as (seq, text) oldest first."""
    seen: list[tuple[int, str]] = []
    before: int | None = None
    while True:
        page = service.messages(STUDIO, session_id, before, limit)
        seen = [(m.seq, m.text) for m in page.messages] + seen
        if page.next_before is None:
            return seen
        before = page.next_before


def _items(store: DynamoSessionStore, session_id: str) -> dict[str, Any]:
    """The session's message and chunk items, raw, by sort key (binary chunk data as bytes)."""
    table = wiring.session_table().table
    items: dict[str, Any] = {}
    query: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(session_id), "ConsistentRead": True}
    while True:
        response = table.query(**query)
        for item in response["Items"]:
            raw: dict[str, Any] = dict(item)
            if raw["sk"] != "SESSION":
                items[raw["sk"]] = {k: bytes(v) if k == "data" else v for k, v in raw.items()}
        if "LastEvaluatedKey" not in response:
            return items
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def test_fifty_concurrent_writers_keep_every_message_and_one_version_history(service: SessionService) -> None:
    # Given a session with 50 players, each about to write at the same time
    writers = [f"w{i:02d}" for i in range(50)]
    head = service.create(
        STUDIO, NewSession(participants=[Participant(id=w, kind=ParticipantKind.PLAYER) for w in writers])
    )
    everyone_read = threading.Barrier(len(writers))

    def write(writer: str) -> tuple[str, int | None]:
        me = Caller(subject=writer, world_id="demo")
        try:
            for k in range(LINES_EACH):
                service.append(me, head.session_id, NewMessages(messages=[SpokenLine(text=f"{writer}-{k}")]))
            version = service.get(STUDIO, head.session_id, limit=1).session.version
        except BaseException:
            everyone_read.abort()  # the others stop waiting; this writer's error is the one to see
            raise
        everyone_read.wait(timeout=120)  # all 50 now hold the same version: only one update can win
        try:
            service.update_metadata(STUDIO, head.session_id, version, {"last_writer": writer})
        except Conflict as stale:
            return "stale", stale.details["current_version"]
        return "updated", None

    # When each appends 3 lines, then updates the metadata with the version it read
    with ThreadPoolExecutor(max_workers=len(writers)) as pool:
        futures = [pool.submit(write, w) for w in writers]
    errors = [f.exception() for f in futures if f.exception() is not None]
    assert not errors, next((e for e in errors if not isinstance(e, threading.BrokenBarrierError)), errors[0])
    outcomes = [f.result() for f in futures]

    # Then no append was lost, and all share one total order that keeps each writer's own order
    # (a reservation whose answer was lost and retried may leave an unused number: no gap-free promise)
    messages = _all_messages(service, head.session_id)
    total = len(writers) * LINES_EACH
    seqs = [seq for seq, _ in messages]
    assert seqs == sorted(set(seqs))
    assert len(seqs) == total
    assert sorted(t for _, t in messages) == sorted(f"{w}-{k}" for w in writers for k in range(LINES_EACH))
    for writer in writers:
        assert [t for _, t in messages if t.startswith(f"{writer}-")] == [
            f"{writer}-{k}" for k in range(LINES_EACH)
        ]
    # And exactly one metadata update won; the 49 stale ones were answered 409 with the current version
    assert sorted(outcome for outcome, _ in outcomes) == ["stale"] * 49 + ["updated"]
    assert {current for outcome, current in outcomes if outcome == "stale"} == {2}
    final = service.get(STUDIO, head.session_id, limit=1).session
    assert final.version == 2
    assert final.message_count == seqs[-1] >= total
    winner = next(w for w, (outcome, _) in zip(writers, outcomes, strict=True) if outcome == "updated")
    assert final.metadata["last_writer"] == winner


def test_ten_thousand_messages_page_across_tiers_and_round_trip_through_s3(
    runtime: LocalRuntime, store: DynamoSessionStore, service: SessionService
) -> None:
    # Given a 10,000-message session: 9,900 in warm chunks, the newest 100 hot
    head = seed_long_session(wiring.session_table(), 10_000)
    assert head.compacted_through == 9_900

    # Then the newest page is hot, and pages cross into warm chunks without a seam
    newest = service.messages(STUDIO, head.session_id, limit=50)
    assert [m.seq for m in newest.messages] == list(range(9_951, 10_001))
    across = service.messages(STUDIO, head.session_id, before=9_951, limit=100)
    assert [m.seq for m in across.messages] == list(range(9_851, 9_951))
    assert [m.seq for m in service.messages(STUDIO, head.session_id, before=2).messages] == [1]
    assert service.messages(STUDIO, head.session_id, before=1).messages == []
    beyond = service.messages(STUDIO, head.session_id, before=99_999, limit=3)
    assert [m.seq for m in beyond.messages] == [9_998, 9_999, 10_000]
    everything = _all_messages(service, head.session_id)
    assert [seq for seq, _ in everything] == list(range(1, 10_001))

    # When it is archived by the archive flow
    items_before = _items(store, head.session_id)
    messages_before = [m.model_dump_json() for m in wiring.tiering_store().everything(head.session_id)[0]]
    archived = _run_flow(
        runtime, SESSION_ARCHIVE_FLOW, {"session_id": head.session_id, "active_before": None}
    )
    assert archived["status"] == "SUCCEEDED", archived
    output = json.loads(archived["output"])
    assert output["upload"]["stored_messages"] == 10_000
    assert output["seal"]["purged_items"] == len(items_before) == 99 + 100

    # Then only a tombstone head stays in DynamoDB, and reads answer from the archive
    tombstone = store.get_head(head.session_id)
    assert tombstone.tier is StorageTier.COLD
    assert tombstone.archive_key == output["upload"]["archive_key"]
    assert _items(store, head.session_id) == {}

    # When the rehydrate flow brings it back
    rehydrated = _run_flow(runtime, SESSION_REHYDRATE_FLOW, {"session_id": head.session_id})
    assert rehydrated["status"] == "SUCCEEDED", rehydrated

    # Then every item is back, byte for byte, and the head is as it was (warm, same version)
    assert _items(store, head.session_id) == items_before
    assert [
        m.model_dump_json() for m in wiring.tiering_store().everything(head.session_id)[0]
    ] == messages_before
    back = store.get_head(head.session_id)
    assert (back.tier, back.version, back.message_count, back.summary, back.compacted_through) == (
        StorageTier.WARM,
        head.version,
        head.message_count,
        head.summary,
        head.compacted_through,
    )


def test_a_suspended_session_is_read_from_s3_then_rehydrated_by_its_flow(
    runtime: LocalRuntime, store: DynamoSessionStore, service: SessionService
) -> None:
    # Given a conversation with a few lines, suspended
    player = Caller(subject=f"p-{uuid.uuid4().hex[:8]}", world_id="demo")
    me = Participant(id=player.subject, kind=ParticipantKind.PLAYER)
    head = service.create(player, NewSession(participants=[me, MIRA]))
    service.append(
        player, head.session_id, NewMessages(messages=[SpokenLine(text=f"line {i}") for i in range(5)])
    )
    suspended = service.suspend(STUDIO, head.session_id)
    assert suspended.archiving
    eventually(lambda: store.get_head(head.session_id).tier is StorageTier.COLD, timeout_s=60, what="archive")

    # When the player reads it
    view = service.get(player, head.session_id)

    # Then the words are answered from the archive at once
    assert view.session.tier is StorageTier.COLD
    assert [m.text for m in view.messages] == [f"line {i}" for i in range(5)]
    # And the read asked for rehydration: the event starts the flow, which brings it back hot
    eventually(
        lambda: store.get_head(head.session_id).tier is StorageTier.HOT, timeout_s=60, what="rehydration"
    )
    again = service.get(player, head.session_id)
    assert again.messages == view.messages


def test_the_dormancy_sweep_archives_only_sessions_quiet_for_longer_than_configured(
    runtime: LocalRuntime, store: DynamoSessionStore
) -> None:
    # Given a session last active two years ago, and one active now
    long_ago = (datetime.now(UTC) - timedelta(days=730)).isoformat(timespec="milliseconds")
    old = store.create(
        SessionHead(world_id="demo", participants=[MIRA], created_at=long_ago, updated_at=long_ago)
    )
    fresh = store.create(SessionHead(world_id="demo", participants=[MIRA]))

    # When the schedule ticks
    result = runtime.schedules.fire("session-dormancy-sweep")

    # Then only the old one is archived
    assert old.session_id in result["started"]
    assert fresh.session_id not in result["started"]
    eventually(
        lambda: store.get_head(old.session_id).tier is StorageTier.COLD,
        timeout_s=60,
        what="archive of the dormant session",
    )
    assert store.get_head(fresh.session_id).tier is StorageTier.HOT


def test_a_failed_upload_thaws_the_session_untouched(
    runtime: LocalRuntime, store: DynamoSessionStore, service: SessionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a session, and an archive bucket that refuses every upload
    head = service.create(STUDIO, NewSession(participants=[MIRA]))
    lines = NewMessages(messages=[SpokenLine(speaker=MIRA, text="Still here.")])
    service.append(STUDIO, head.session_id, lines)

    def refuse(key: str, data: bytes) -> None:
        raise ConnectionError("S3 is unreachable")

    monkeypatch.setattr(wiring.session_archive(), "put", refuse)

    # When the archive flow runs
    failed = _run_flow(runtime, SESSION_ARCHIVE_FLOW, {"session_id": head.session_id, "active_before": None})

    # Then it retried, gave up, thawed the session and says so
    assert failed["status"] == "FAILED"
    assert failed["error"] == "SessionArchiveFailed"
    after = store.get_head(head.session_id)
    assert after.tier is StorageTier.HOT
    assert [m.text for m in service.messages(STUDIO, head.session_id).messages] == ["Still here."]
    service.append(STUDIO, head.session_id, lines)  # and it takes writes again


def _timing_out_after_the_write(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch, session_id: str, steps: set[str]
) -> list[str]:
    """Each of `steps`, for `session_id`, does its work the first time, then fails its task (a Lambda
    that timed out after its write): the flow's Retry runs it again. Returns the steps so failed."""
    invoke = runtime.lambdas.invoke
    failed: list[str] = []

    def first_time_fails_after_the_write(name: str, event: dict[str, Any]) -> Any:
        result = invoke(name, event)
        step = str(event.get("step"))
        if event.get("session_id") == session_id and step in steps and step not in failed:
            failed.append(step)
            raise TimeoutError(f"Task timed out after its {step} was written")
        return result

    monkeypatch.setattr(runtime.lambdas, "invoke", first_time_fails_after_the_write)
    return failed


def test_flows_whose_moves_are_run_twice_still_archive_and_rehydrate(
    runtime: LocalRuntime, store: DynamoSessionStore, service: SessionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a session, and freeze, upload, seal, claim and restore tasks that each time out once after
    # doing their work (Step Functions retries them)
    head = service.create(STUDIO, NewSession(participants=[MIRA]))
    lines = NewMessages(messages=[SpokenLine(speaker=MIRA, text=f"line {i}") for i in range(3)])
    service.append(STUDIO, head.session_id, lines)
    failed = _timing_out_after_the_write(
        runtime, monkeypatch, head.session_id, {"freeze", "upload", "seal", "claim", "restore"}
    )

    # When the archive flow runs, then the rehydrate flow
    archived = _run_flow(
        runtime, SESSION_ARCHIVE_FLOW, {"session_id": head.session_id, "active_before": None}
    )
    tombstone = store.get_head(head.session_id)
    rehydrated = _run_flow(runtime, SESSION_REHYDRATE_FLOW, {"session_id": head.session_id})

    # Then each step ran twice, and both flows ended as if none had: archived, then back with every line
    assert failed == ["freeze", "upload", "seal", "claim", "restore"]
    assert (archived["status"], tombstone.tier) == ("SUCCEEDED", StorageTier.COLD)
    assert rehydrated["status"] == "SUCCEEDED", rehydrated
    assert json.loads(rehydrated["output"])["restore"] == {"messages": 3, "tier": "hot"}
    assert store.get_head(head.session_id).tier is StorageTier.HOT
    assert [m.text for m in service.messages(STUDIO, head.session_id).messages] == [
        f"line {i}" for i in range(3)
    ]
    # And the archive bucket holds nothing of it: one object was written, and discarded
    s3 = aws_client("s3", runtime.aws.url)
    bucket = get_settings().archive_bucket
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"sessions/demo/{head.session_id}/")
    assert listed.get("KeyCount", 0) == 0


def test_a_write_racing_the_archive_waits_and_lands_once(
    runtime: LocalRuntime, store: DynamoSessionStore, service: SessionService
) -> None:
    # Given a session being archived right now
    head = service.create(STUDIO, NewSession(participants=[MIRA]))
    service.append(STUDIO, head.session_id, NewMessages(messages=[SpokenLine(speaker=MIRA, text="first")]))
    service.suspend(STUDIO, head.session_id)

    # When someone speaks meanwhile
    service.append(STUDIO, head.session_id, NewMessages(messages=[SpokenLine(speaker=MIRA, text="second")]))

    # Then the line landed (before the freeze, or after an inline rehydration), exactly once
    eventually(
        lambda: store.get_head(head.session_id).tier in (StorageTier.HOT, StorageTier.COLD),
        timeout_s=60,
        what="a settled tier",
    )
    texts = [m.text for m in service.messages(STUDIO, head.session_id).messages]
    assert texts == ["first", "second"]


def test_the_summarizer_compacts_with_the_local_model(
    store: DynamoSessionStore, service: SessionService
) -> None:
    # Given a session whose hot part reaches the compaction threshold (200)
    policy = wiring.session_policy()
    head = service.create(STUDIO, NewSession(participants=[MIRA]))
    for batch in range(policy.compaction_threshold // 25):
        lines = [SpokenLine(speaker=MIRA, text=f"Mira says thing {batch * 25 + i}.") for i in range(1, 26)]
        service.append(STUDIO, head.session_id, NewMessages(messages=lines))

    # Then the event reaches the summarizer, which writes a summary and moves the oldest into a chunk
    def compacted() -> bool:
        return store.get_head(head.session_id).compacted_through > 0

    eventually(compacted, timeout_s=180, what="compaction")  # the local model shares two cores
    after = store.get_head(head.session_id)
    assert after.tier is StorageTier.WARM
    assert after.compacted_through == after.summary_through == 100
    assert after.summary.strip()
    # And every message still reads back in order, across warm and hot
    assert [seq for seq, _ in _all_messages(service, head.session_id, limit=64)] == list(range(1, 201))
