"""Answering CloudFormation for a Lambda-backed custom resource: a PUT of the result to the
request's pre-signed `ResponseURL` (what CDK's provider framework would otherwise do for us, at
the cost of one more function, role, policy and log group in a stack near its resource limit)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from typing import Any

TIMEOUT_S = 10.0


def answer(
    event: Mapping[str, Any],
    physical_id: str,
    *,
    data: Mapping[str, str] | None = None,
    failure: str | None = None,
    log_stream: str = "",
) -> dict[str, Any]:
    """Tell CloudFormation the outcome; returns what was sent."""
    body = {
        "Status": "FAILED" if failure else "SUCCESS",
        "Reason": failure or f"See CloudWatch log stream {log_stream}",
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": dict(data or {}),
    }
    encoded = json.dumps(body).encode()
    url = str(event["ResponseURL"])
    if not url.startswith("https://"):
        raise ValueError("a CloudFormation response URL is https://")
    request = urllib.request.Request(
        url, data=encoded, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(encoded))}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_S):
        pass
    return body
