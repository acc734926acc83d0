"""boto3 clients and tables, created once per cold start and shared by the adapters.

Endpoints come from the standard variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`):
the local runtime points them at loopback, the cloud leaves them unset. No code branches.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})


@cache
def client(service: str, endpoint_url: str | None = None) -> Any:
    return boto3.session.Session().client(service, endpoint_url=endpoint_url, config=_CONFIG)


@cache
def table(name: str) -> Any:
    return boto3.session.Session().resource("dynamodb", config=_CONFIG).Table(name)


def query_items(dynamodb_table: Any, **query: Any) -> Iterator[dict[str, Any]]:
    """Every item a `Table.query` matches, page after page, fetched as they are consumed."""
    while True:
        response = dynamodb_table.query(**query)
        yield from response["Items"]
        if "LastEvaluatedKey" not in response:
            return
        query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
