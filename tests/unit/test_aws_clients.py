"""The shared boto3 clients follow the endpoint variables once they are forgotten (the local runtime
forgets them when it points the variables at loopback and when it puts them back)."""

from __future__ import annotations

import pytest

from aicore import aws


def test_a_forgotten_client_is_made_again_with_the_current_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    aws.forget_clients()
    assert aws.s3_client().meta.endpoint_url == "http://127.0.0.1:9"

    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert aws.s3_client().meta.endpoint_url == "http://127.0.0.1:9"  # made once per cold start
    aws.forget_clients()

    assert aws.s3_client().meta.endpoint_url == "https://s3.amazonaws.com"
