"""Sessions: AWS calls per append, reading the newest page of a 10,000-message session, archive and
rehydrate (and how both scale with the session's size: 1k to 100k messages).

Runs against the local runtime's embedded AWS (moto server on loopback, DynamoDB requests atomic as
in AWS), with the production adapters and service; no model is needed. AWS calls are counted with a
botocore `before-call` hook on the clients the adapters use, not estimated.

    .venv/bin/python -m bench.sessions [--runs 20] [--messages 10000] [--rehydrations 5]

Prints a table and writes bench/results/sessions.json. Times are local (moto costs ~6 ms a call
here, far more than DynamoDB's single-digit ms in a region): compare call counts across machines,
times only on this one.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from aicore.auth import Caller, Role
from aicore.aws.session_archive import S3SessionArchive
from aicore.aws.sessions.store import DynamoSessionStore
from aicore.aws.sessions.table import SessionTable
from aicore.aws.sessions.tiering import DynamoTieringStore
from aicore.events import EventDetail
from aicore.local.long_sessions import seed_long_session
from aicore.sessions.models import NewMessage, Participant, ParticipantKind, SessionHead
from aicore.sessions.service import NewMessages, NewSession, SessionService, SpokenLine
from aicore.sessions.tiers import Tiering
from aicore.topology import physical_name
from bench.common import CallCounter, embedded_aws, write_report

ENV = "local"
STUDIO = Caller(subject="bench", world_id="demo", roles=(Role.STUDIO,))
PLAYER = Participant(id="player-bench", kind=ParticipantKind.PLAYER)
T = TypeVar("T")


class NoEvents:
    def publish(self, source: str, detail_type: str, detail: EventDetail) -> None:
        """The bench measures storage; events are not part of it."""


def timed(work: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = work()
    return (time.perf_counter() - started) * 1000, result


def summary(samples_ms: list[float], calls: list[Counter[str]]) -> dict[str, Any]:
    merged: Counter[str] = Counter()
    for counted in calls:
        merged.update(counted)
    per_run = {name: round(total / len(calls), 2) for name, total in sorted(merged.items())}
    return {
        "median_ms": round(statistics.median(samples_ms), 2),
        "p90_ms": round(sorted(samples_ms)[int(len(samples_ms) * 0.9) - 1], 2)
        if len(samples_ms) >= 10
        else None,
        "runs": len(samples_ms),
        "aws_calls_per_run": per_run,
        "dynamodb_calls_per_run": round(
            sum(v for k, v in merged.items() if k.startswith("dynamodb:")) / len(calls), 2
        ),
    }


def measure(counter: CallCounter, runs: int, work: Callable[[], object]) -> dict[str, Any]:
    samples: list[float] = []
    calls: list[Counter[str]] = []
    for _ in range(runs):
        with counter.counting() as counted:
            elapsed, _ = timed(work)
        samples.append(elapsed)
        calls.append(Counter(counted))
    return summary(samples, calls)


def concurrent_writers(service: SessionService, writers: int, each: int) -> dict[str, Any]:
    names = [f"w{i:02d}" for i in range(writers)]
    participants = [Participant(id=n, kind=ParticipantKind.PLAYER) for n in names]
    head = service.create(STUDIO, NewSession(participants=participants))

    def write(name: str) -> None:
        me = Caller(subject=name, world_id="demo")
        for k in range(each):
            service.append(me, head.session_id, NewMessages(messages=[SpokenLine(text=f"{name}-{k}")]))

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(write, names))
    elapsed_s = time.perf_counter() - started
    stored = service.messages(STUDIO, head.session_id, limit=200).messages
    expected = writers * each
    count = service.get(STUDIO, head.session_id, limit=1).session.message_count
    return {
        "writers": writers,
        "appends": expected,
        "wall_s": round(elapsed_s, 2),
        "appends_per_s": round(expected / elapsed_s, 1),
        "message_count": count,
        "lost_appends": expected - len({m.seq for m in stored}) if expected <= 200 else None,
    }


def run(runs: int, messages: int, rehydrations: int, sizes: list[int]) -> dict[str, Any]:
    with embedded_aws(ENV):
        table_name = physical_name(ENV, "sessions")
        table = SessionTable(table_name)
        store = DynamoSessionStore(table)
        tiering = Tiering(DynamoTieringStore(table), S3SessionArchive(physical_name(ENV, "archive")))
        service = SessionService(store, tiering, NoEvents())
        counter = CallCounter()

        chat = store.create(SessionHead(world_id="demo", participants=[PLAYER]))
        line = [NewMessage(speaker=PLAYER, text="One more round, innkeeper.")]
        results: dict[str, Any] = {
            "append, store (the NPC turn's path)": measure(counter, runs, lambda: store.append(chat, line)),
            "append, service (HTTP: RBAC head read + append)": measure(
                counter,
                runs,
                lambda: service.append(
                    Caller(subject=PLAYER.id, world_id="demo"),
                    chat.session_id,
                    NewMessages(messages=[SpokenLine(text="And another.")]),
                ),
            ),
        }

        seeded_s, long = timed(lambda: seed_long_session(table, messages))
        results[f"newest page (50) of a {messages:,}-message session (with its head)"] = measure(
            counter, runs, lambda: service.messages(STUDIO, long.session_id, limit=50)
        )
        results[f"a warm page (50, before={messages // 2}) of the same session"] = measure(
            counter, runs, lambda: service.messages(STUDIO, long.session_id, before=messages // 2, limit=50)
        )

        archive_ms: list[float] = []
        rehydrate_ms: list[float] = []
        archive_calls: list[Counter[str]] = []
        rehydrate_calls: list[Counter[str]] = []
        object_bytes: list[int] = []
        for _ in range(rehydrations):
            with counter.counting() as counted:
                elapsed, _ = timed(lambda: _archive(tiering, long.session_id, object_bytes))
            archive_ms.append(elapsed)
            archive_calls.append(Counter(counted))
            with counter.counting() as counted:
                elapsed, _ = timed(lambda: tiering.rehydrate_now(long.session_id))
            rehydrate_ms.append(elapsed)
            rehydrate_calls.append(Counter(counted))
        results[f"archive to S3 ({messages:,} messages: freeze, upload, seal)"] = summary(
            archive_ms, archive_calls
        )
        results[f"rehydrate from S3 ({messages:,} messages: claim, restore, discard)"] = summary(
            rehydrate_ms, rehydrate_calls
        )
        writers = concurrent_writers(service, writers=50, each=4)
        scaling = by_size(table, tiering, sizes)
        return {
            "bench": "sessions",
            "runs": runs,
            "messages": messages,
            "seed_s": round(seeded_s / 1000, 2),
            "archive_object_bytes": object_bytes[0] if object_bytes else None,
            "machine": {
                "platform": platform.platform(),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
            },
            "results": results,
            "concurrent_writers": writers,
            "archive_and_rehydrate_by_size": scaling,
        }


def by_size(table: SessionTable, tiering: Tiering, sizes: list[int]) -> dict[str, dict[str, float]]:
    """Archive and rehydrate once per session size: linear means the time per message holds still."""
    scaling = {}
    for size in sizes:
        session_id = seed_long_session(table, size).session_id
        archive_ms, _ = timed(partial(_archive, tiering, session_id, []))
        rehydrate_ms, _ = timed(partial(tiering.rehydrate_now, session_id))
        scaling[str(size)] = {
            "archive_ms": round(archive_ms, 1),
            "rehydrate_ms": round(rehydrate_ms, 1),
            "archive_us_per_message": round(archive_ms * 1000 / size, 1),
            "rehydrate_us_per_message": round(rehydrate_ms * 1000 / size, 1),
        }
    return scaling


def _archive(tiering: Tiering, session_id: str, sizes: list[int]) -> None:
    tiering.freeze(session_id, None, f"bench-archive-{session_id}")
    uploaded = tiering.upload(session_id)
    sizes.append(uploaded.bytes)
    tiering.seal(session_id, uploaded.archive_key)


def print_table(report: dict[str, Any]) -> None:
    print(f"sessions bench: moto server on loopback, {report['runs']} runs (rehydrate: fewer), medians")
    print(f"{'operation':<68} {'median ms':>10} {'DynamoDB calls':>15}  other AWS calls")
    for name, result in report["results"].items():
        others = ", ".join(
            f"{k} x{v:g}" for k, v in result["aws_calls_per_run"].items() if not k.startswith("dynamodb:")
        )
        print(f"{name:<68} {result['median_ms']:>10.1f} {result['dynamodb_calls_per_run']:>15g}  {others}")
    writers = report["concurrent_writers"]
    print(
        f"{writers['writers']} concurrent writers x {writers['appends'] // writers['writers']} appends: "
        f"{writers['wall_s']} s, {writers['appends_per_s']} appends/s, "
        f"message_count {writers['message_count']}, lost {writers['lost_appends']}"
    )
    print(f"archive object: {report['archive_object_bytes']:,} bytes for {report['messages']:,} messages")
    print(f"{'messages':>9} {'archive ms':>11} {'µs/message':>11} {'rehydrate ms':>13} {'µs/message':>11}")
    for size, row in report["archive_and_rehydrate_by_size"].items():
        print(
            f"{int(size):>9,} {row['archive_ms']:>11.0f} {row['archive_us_per_message']:>11.1f}"
            f" {row['rehydrate_ms']:>13.0f} {row['rehydrate_us_per_message']:>11.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rehydrations", type=int, default=5)
    parser.add_argument(
        "--sizes", default="1000,10000,50000,100000", help="sessions archived and rehydrated once each"
    )
    args = parser.parse_args()
    report = run(args.runs, args.messages, args.rehydrations, [int(n) for n in args.sizes.split(",")])
    print_table(report)
    write_report("sessions", report)


if __name__ == "__main__":
    main()
