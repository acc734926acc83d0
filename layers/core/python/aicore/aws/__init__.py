"""boto3 clients and tables, created once per cold start and shared by the adapters, typed with the
mypy-boto3 stubs (a dev dependency: at run time the annotations are never evaluated).

Endpoints come from the standard variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`):
the local runtime points them at loopback, the cloud leaves them unset. No code branches.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient

# Accessors are named `<service>_client`: plain `events` would be shadowed by the submodule
# `aicore.aws.events` once it is imported.
READ_TIMEOUT_VARIABLE = "AWS_READ_TIMEOUT_S"
DEFAULT_READ_TIMEOUT_S = 10.0


@cache
def _config() -> Config:
    return Config(
        connect_timeout=2, read_timeout=read_timeout_s(), retries={"mode": "standard", "max_attempts": 3}
    )


def read_timeout_s() -> float:
    """How long a call may wait for its answer: 10 s against AWS. `aicore local` gives its moto server
    more (`AWS_READ_TIMEOUT_S`, read like the endpoint variables): under 50 concurrent transactions on
    a busy laptop it answers in tens of seconds what DynamoDB answers in milliseconds."""
    given = os.environ.get(READ_TIMEOUT_VARIABLE)
    if not given:
        return DEFAULT_READ_TIMEOUT_S
    try:
        seconds = float(given)
    except ValueError:
        seconds = math.nan
    if not 1 <= seconds <= 300:  # NaN too
        raise ValueError(f"{READ_TIMEOUT_VARIABLE} must be seconds from 1 to 300")
    return seconds


@cache
def _client(service: str, endpoint_url: str | None = None) -> Any:
    return boto3.session.Session().client(service, endpoint_url=endpoint_url, config=_config())


def dynamodb_client() -> DynamoDBClient:
    return cast("DynamoDBClient", _client("dynamodb"))


def events_client() -> EventBridgeClient:
    return cast("EventBridgeClient", _client("events"))


def s3_client() -> S3Client:
    return cast("S3Client", _client("s3"))


def stepfunctions_client() -> SFNClient:
    return cast("SFNClient", _client("stepfunctions"))


def ssm_client() -> SSMClient:
    return cast("SSMClient", _client("ssm"))


def secretsmanager_client() -> SecretsManagerClient:
    return cast("SecretsManagerClient", _client("secretsmanager"))


def sagemaker_client() -> SageMakerClient:
    return cast("SageMakerClient", _client("sagemaker"))


def connections_client(endpoint_url: str) -> ApiGatewayManagementApiClient:
    """The WebSocket API's `@connections` endpoint (its URL is the stage's callback URL)."""
    return cast("ApiGatewayManagementApiClient", _client("apigatewaymanagementapi", endpoint_url))


@cache
def table(name: str) -> Table:
    return cast("Table", boto3.session.Session().resource("dynamodb", config=_config()).Table(name))


def forget_clients() -> None:
    """Drop the clients and tables made so far: the next ones read the endpoint variables again (the
    local runtime calls it when it points them at loopback, and when it puts them back)."""
    _client.cache_clear()
    table.cache_clear()
    _config.cache_clear()


def resource_client(dynamodb_table: Table) -> Any:
    """The client behind a table resource, for transactions and batch reads. It takes and gives plain
    Python values (boto3 serializes them on this client), which the stubs of the low-level client
    cannot express: so it is left untyped, and only here."""
    return dynamodb_table.meta.client


def transact(dynamodb_table: Table, writes: list[dict[str, Any]]) -> bool:
    """One transaction; False when a condition failed (someone else changed an item first)."""
    try:
        resource_client(dynamodb_table).transact_write_items(TransactItems=writes)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "TransactionCanceledException":
            return False
        raise
    return True


def query_items(dynamodb_table: Table, **query: Any) -> Iterator[dict[str, Any]]:
    """Every item a `Table.query` matches, page after page, fetched as they are consumed."""
    while True:
        response = dynamodb_table.query(**query)
        yield from response["Items"]
        if "LastEvaluatedKey" not in response:
            return
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
