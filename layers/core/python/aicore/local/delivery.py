"""Delivers the bus's events to their target handlers, asynchronously, as EventBridge does.

moto matches each `put_events` against the rules' real patterns and queues the event for the
rule's target; a poller per rule invokes the handler. A failed invocation is retried after the
queue's visibility timeout and lands in the rule's dead-letter queue after the last attempt.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aicore.local.embedded_aws import ACCOUNT, RuleDelivery, aws_client
from aicore.local.lambdas import Lambdas
from aicore.observability import logger

WAIT_S = 1


class EventDelivery:
    def __init__(self, lambdas: Lambdas, endpoint_url: str, deliveries: list[RuleDelivery]) -> None:
        self._lambdas = lambdas
        self._sqs = aws_client("sqs", endpoint_url)
        self._deliveries = deliveries
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="events")
        self._threads = [
            threading.Thread(target=self._poll, args=(d,), name=f"rule-{d.rule.name}", daemon=True)
            for d in deliveries
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=WAIT_S + 2)
        self._pool.shutdown(wait=True, cancel_futures=True)

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
                self._pool.submit(self._deliver, delivery, message)

    def _deliver(self, delivery: RuleDelivery, message: dict[str, Any]) -> None:
        event = json.loads(message["Body"])
        event.setdefault("account", ACCOUNT)  # EventBridge always sets it; moto leaves it out
        try:
            self._lambdas.invoke(delivery.function, event)
        except Exception:
            logger.exception("Event target failed; it will be retried", extra={"rule": delivery.rule.name})
            return
        self._sqs.delete_message(QueueUrl=delivery.queue_url, ReceiptHandle=message["ReceiptHandle"])
