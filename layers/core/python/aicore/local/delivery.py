"""Delivers the bus's events to their target handlers, asynchronously, as EventBridge does.

moto matches each `put_events` against the rules' real patterns and queues the event for the
rule's target; a poller per rule invokes the handler. A failed invocation is retried after the
queue's visibility timeout and lands in the rule's dead-letter queue after the last attempt.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from aicore.local.embedded_aws import ACCOUNT, RuleDelivery, aws_client
from aicore.local.lambdas import Lambdas
from aicore.local.stopping import Deadline, join_threads, wait_futures
from aicore.observability import logger

WAIT_S = 1


class EventDelivery:
    def __init__(self, lambdas: Lambdas, endpoint_url: str, deliveries: list[RuleDelivery]) -> None:
        self._lambdas = lambdas
        self._sqs = aws_client("sqs", endpoint_url)
        self._deliveries = deliveries
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="events")
        self._in_flight: set[Future[None]] = set()
        self._threads = [
            threading.Thread(target=self._poll, args=(d,), name=f"rule-{d.rule.name}", daemon=True)
            for d in deliveries
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

    def _poll(self, delivery: RuleDelivery) -> None:
        while not self._stop.is_set():
            try:
                received = self._sqs.receive_message(
                    QueueUrl=delivery.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=WAIT_S
                )
            except Exception:
                if not self._stop.is_set():
                    logger.exception("Polling rule queue failed", extra={"rule": delivery.rule.name})
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

    def _deliver(self, delivery: RuleDelivery, message: dict[str, Any]) -> None:
        event = json.loads(message["Body"])
        event.setdefault("account", ACCOUNT)  # EventBridge always sets it; moto leaves it out
        try:
            self._lambdas.invoke(delivery.function, event)
        except Exception:
            logger.exception("Event target failed; it will be retried", extra={"rule": delivery.rule.name})
            return
        self._sqs.delete_message(QueueUrl=delivery.queue_url, ReceiptHandle=message["ReceiptHandle"])
