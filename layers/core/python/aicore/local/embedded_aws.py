"""Embedded AWS: moto server on loopback, with the resources the topology declares.

With a data directory, DynamoDB items and S3 objects survive a restart (`aicore.local.persistence`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from aicore.analytics.records import INPUT_PATHS, INPUT_TEMPLATE
from aicore.local.persistence import AwsStateStore, Restored, snapshot_writes
from aicore.local.stopping import Deadline
from aicore.observability import logger
from aicore.topology import PAYMENTS_WEBHOOK_SECRET, TOPOLOGY, EventRule, Table, Topology, physical_name

REGION = "us-east-1"
ACCOUNT = "123456789012"
DELIVERY_MAX_ATTEMPTS = 3
# Step Functions runs our ASL for real; Lambda tasks are served in-process (see FACTS.md).
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedAws:
    """A moto server thread; `url` is what `AWS_ENDPOINT_URL` points at.

    With `data_dir`, call `restore()` once the resources exist: it brings back what the last run
    stored, and from then on every write is journaled.
    """

    def __init__(self, port: int | None = None, data_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self._app = DomainDispatcherApplication(create_backend_app)
        self._store = AwsStateStore(data_dir) if data_dir is not None else None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def persistent(self) -> bool:
        return self._store is not None

    def start(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call otherwise
        serialize_dynamodb_requests()
        if self._store is not None:
            self._store.open()
        app = self._app if self._store is None else self._store.journaling(self._app)
        self._server = make_server(
            "127.0.0.1", self.port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()
        requests.post(f"{self.url}/moto-api/config", json=MOTO_CONFIG, timeout=5).raise_for_status()
        return self.url

    def restore(self) -> Restored | None:
        """Replay the data directory into moto, then snapshot it and start journaling (None: in memory)."""
        if self._store is None:
            return None
        restored = self._store.restore(self._app)
        self.checkpoint()
        return restored

    def checkpoint(self) -> None:
        """Write everything to a new snapshot; the journal starts again empty."""
        if self._store is not None:
            writes = snapshot_writes(aws_client("dynamodb", self.url), aws_client("s3", self.url), REGION)
            self._store.checkpoint(writes)

    def stop(self, deadline: Deadline | None = None) -> bool:
        """Snapshot (when persistent and time allows), then stop serving within the deadline."""
        deadline = deadline or Deadline.after(10)
        if self._store is not None:
            if self._store.restored and not deadline.passed:
                try:
                    self.checkpoint()
                except Exception:  # the journal still holds every write: nothing is lost
                    logger.exception("Snapshot at stop failed; the journal is kept")
            self._store.close()
        if self._server is None or self._thread is None:
            return True
        server, thread = self._server, self._thread
        self._server = self._thread = None
        stopper = threading.Thread(target=server.shutdown, name="moto-stop", daemon=True)
        stopper.start()  # shutdown() waits for the serving loop, which wakes every 0.5 s
        stopper.join(deadline.left())
        thread.join(deadline.left())
        if thread.is_alive():
            logger.warning("moto server did not stop in time: abandoned")
            return False
        server.server_close()
        return True


_dynamodb_serialized = threading.Lock()


def serialize_dynamodb_requests() -> None:
    """Make each DynamoDB request atomic, as DynamoDB is and moto is not.

    DynamoDB applies a request to an item atomically: an `ADD` counter never loses an increment
    and a condition is checked and the write made as one step. moto's backend takes no lock, so
    concurrent requests interleave between the check and the write. Running moto's DynamoDB
    requests one at a time (they are CPU-bound under the GIL anyway) restores the guarantee that
    concurrent writers rely on. Patched once per process, like the Lambda bridge.
    """
    with _dynamodb_serialized:
        if getattr(DynamoHandler.call_action, "serialized", False):
            return
        original = DynamoHandler.call_action
        one_at_a_time = threading.Lock()

        def call_action(handler: DynamoHandler) -> Any:
            with one_at_a_time:
                return original(handler)

        call_action.serialized = True  # type: ignore[attr-defined]
        DynamoHandler.call_action = call_action  # type: ignore[method-assign]


def aws_client(service: str, endpoint_url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@dataclass(frozen=True)
class RuleDelivery:
    """Where EventBridge delivers a rule's events locally: an SQS queue the runtime drains."""

    rule: EventRule
    function: str
    queue_url: str


@dataclass(frozen=True)
class StreamDelivery:
    """Where EventBridge delivers a stream rule's events locally (a Firehose stream in the cloud): a
    queue the runtime drains into files. The rule's input transformer has shaped each message."""

    name: str
    queue_url: str


def rule_queue_name(env: str, rule: EventRule) -> str:
    return physical_name(env, f"rule-{rule.name}")


# Development values of the operator's secrets: worthless outside a laptop. `aicore smoke` signs
# its webhook delivery with the payment one (AICORE_LOCAL_WEBHOOK_SECRET overrides it).
LOCAL_WEBHOOK_SECRET = os.environ.get("AICORE_LOCAL_WEBHOOK_SECRET", "whsec_aicore_local_development")
LOCAL_SECRETS = {PAYMENTS_WEBHOOK_SECRET.name: LOCAL_WEBHOOK_SECRET}


def create_resources(endpoint_url: str, env: str, topology: Topology = TOPOLOGY) -> list[RuleDelivery]:
    """Tables, buckets, the bus and its rules, as the topology declares them."""
    dynamodb = aws_client("dynamodb", endpoint_url)
    for table in topology.tables:
        keys = [(table.partition_key, "HASH")] + ([(table.sort_key, "RANGE")] if table.sort_key else [])
        name = physical_name(env, table.name)
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in _key_attributes(table)],
            **_indexes(table),
        )
        if table.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
    s3 = aws_client("s3", endpoint_url)
    for bucket in topology.buckets:
        s3.create_bucket(Bucket=physical_name(env, bucket.name))
    if topology.signing_keys is not None:  # empty, as a deploy leaves it: the key set-up fills it
        aws_client("secretsmanager", endpoint_url).create_secret(
            Name=topology.signing_keys.secret_name(env), SecretString='{"keys": []}'
        )
    for secret in topology.secrets:  # what the operator puts after a deploy, a development value here
        aws_client("secretsmanager", endpoint_url).create_secret(
            Name=secret.secret_name(env), SecretString=LOCAL_SECRETS.get(secret.name, secret.name)
        )
    events = aws_client("events", endpoint_url)
    bus = physical_name(env, topology.bus.name)
    events.create_event_bus(Name=bus)
    return [
        _route_rule(events, aws_client("sqs", endpoint_url), env, bus, rule, fn.name)
        for fn in topology.functions
        for rule in fn.events
    ]


def _key_attributes(table: Table) -> list[str]:
    names = [table.partition_key, *([table.sort_key] if table.sort_key else [])]
    for index in table.indexes:
        names += [index.partition_key, *([index.sort_key] if index.sort_key else [])]
    return list(dict.fromkeys(names))


def _indexes(table: Table) -> dict[str, Any]:
    """Global secondary indexes as the topology declares them (keys, plus `include`, like cdk/)."""
    if not table.indexes:
        return {}
    return {
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index.name,
                "KeySchema": [{"AttributeName": index.partition_key, "KeyType": "HASH"}]
                + ([{"AttributeName": index.sort_key, "KeyType": "RANGE"}] if index.sort_key else []),
                "Projection": (
                    {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.include)}
                    if index.include
                    else {"ProjectionType": "KEYS_ONLY"}
                ),
            }
            for index in table.indexes
        ]
    }


def create_analytics_rule(
    endpoint_url: str, env: str, topology: Topology = TOPOLOGY
) -> StreamDelivery | None:
    """The analytics rule: its real pattern and the cloud's input transformer, a queue as its target."""
    stream = topology.analytics
    if stream is None:
        return None
    events = aws_client("events", endpoint_url)
    sqs = aws_client("sqs", endpoint_url)
    queue_url, queue_arn = _rule_queue(sqs, physical_name(env, f"rule-{stream.name}"))
    rule_name = physical_name(env, stream.name)
    bus = physical_name(env, topology.bus.name)
    events.put_rule(Name=rule_name, EventBusName=bus, EventPattern=json.dumps(stream.pattern))
    transformer = {"InputPathsMap": INPUT_PATHS, "InputTemplate": INPUT_TEMPLATE}
    events.put_targets(
        Rule=rule_name,
        EventBusName=bus,
        Targets=[{"Id": stream.name, "Arn": queue_arn, "InputTransformer": transformer}],
    )
    return StreamDelivery(stream.name, queue_url)


def _route_rule(events: Any, sqs: Any, env: str, bus: str, rule: EventRule, function: str) -> RuleDelivery:
    """The rule with its real pattern; its target is a queue (with a dead-letter queue)."""
    queue_url, queue_arn = _rule_queue(sqs, rule_queue_name(env, rule))
    events.put_rule(
        Name=physical_name(env, rule.name), EventBusName=bus, EventPattern=json.dumps(rule.pattern)
    )
    events.put_targets(
        Rule=physical_name(env, rule.name), EventBusName=bus, Targets=[{"Id": function, "Arn": queue_arn}]
    )
    return RuleDelivery(rule, function, queue_url)


def _rule_queue(sqs: Any, name: str) -> tuple[str, str]:
    """A rule's target queue (URL, ARN), with a dead-letter queue after the last attempt."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": DELIVERY_MAX_ATTEMPTS})
    queue_url = sqs.create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": "5", "RedrivePolicy": redrive}
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return queue_url, queue_arn
