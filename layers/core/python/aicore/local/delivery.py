"""Delivers the bus's events to their target handlers, asynchronously, as EventBridge does.

moto matches each `put_events` against the rules' real patterns and queues the event for the
rule's target; a poller per rule invokes the handler. A failed invocation is retried after the
queue's visibility timeout and lands in the rule's dead-letter queue after the last attempt.
A rule whose target is a stream (analytics: Firehose in the cloud) is drained the same way into
its sink (`aicore.local.analytics.AnalyticsFiles`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aicore.local.embedded_aws import ACCOUNT, RuleDelivery, StreamDelivery, aws_client
from aicore.local.lambdas import Lambdas
from aicore.local.stopping import Deadline, join_threads, wait_futures
from aicore.observability import logger

WAIT_S = 1

# A stream's sink takes one message body (the rule's transformed input); raising leaves it queued.
StreamSink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class _Target:
    rule: str
    queue_url: str
    deliver: Callable[[dict[str, Any]], None]  # the message's body, parsed


class EventDelivery:
    def __init__(
        self,
        lambdas: Lambdas,
        endpoint_url: str,
        deliveries: list[RuleDelivery],
        streams: Sequence[tuple[StreamDelivery, StreamSink]] = (),
    ) -> None:
        self._lambdas = lambdas
        self._sqs = aws_client("sqs", endpoint_url)
        targets = [_Target(d.rule.name, d.queue_url, self._invoker(d.function)) for d in deliveries]
        targets += [_Target(stream.name, stream.queue_url, sink) for stream, sink in streams]
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="events")
        self._in_flight: set[Future[None]] = set()
        self._threads = [
            threading.Thread(target=self._poll, args=(t,), name=f"rule-{t.rule}", daemon=True)
            for t in targets
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, deadline: Deadline | None = None) -> bool:
        """Stop polling and wait for deliveries in flight until the deadline; False if some were left.

        A delivery left running is not lost: its message was not deleted, so it comes back.
        """
        deadline = deadline or Deadline.after(WAIT_S + 5)
        self._stop.set()
        late_pollers = join_threads(self._threads, deadline)
        self._pool.shutdown(wait=False, cancel_futures=True)
        running = wait_futures(set(self._in_flight), deadline)
        if late_pollers or running:
            logger.warning(
                "Event delivery did not stop in time",
                extra={"pollers": late_pollers, "deliveries_running": running},
            )
        return not late_pollers and not running

    def _invoker(self, function: str) -> Callable[[dict[str, Any]], None]:
        def invoke(event: dict[str, Any]) -> None:
            event.setdefault("account", ACCOUNT)  # EventBridge always sets it; moto leaves it out
            self._lambdas.invoke(function, event)

        return invoke

    def _poll(self, delivery: _Target) -> None:
        while not self._stop.is_set():
            try:
                received = self._sqs.receive_message(
                    QueueUrl=delivery.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=WAIT_S
                )
            except Exception:
                if not self._stop.is_set():
                    logger.exception("Polling rule queue failed", extra={"rule": delivery.rule})
                continue
            for message in received.get("Messages", []):
                if self._stop.is_set():
                    return  # not deleted: the queue hands it out again after a restart
                try:
                    future = self._pool.submit(self._deliver, delivery, message)
                except RuntimeError:  # stopping: the pool takes no more work
                    return
                self._in_flight.add(future)
                future.add_done_callback(self._in_flight.discard)

    def _deliver(self, delivery: _Target, message: dict[str, Any]) -> None:
        try:
            delivery.deliver(json.loads(message["Body"]))
        except Exception:
            logger.exception("Event target failed; it will be retried", extra={"rule": delivery.rule})
            return
        self._sqs.delete_message(QueueUrl=delivery.queue_url, ReceiptHandle=message["ReceiptHandle"])
