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


@pytest.mark.parametrize(("given", "seconds"), [(None, 10.0), ("60", 60.0), ("2.5", 2.5)])
def test_the_read_timeout_comes_from_its_variable(
    monkeypatch: pytest.MonkeyPatch, given: str | None, seconds: float
) -> None:
    if given is None:
        monkeypatch.delenv(aws.READ_TIMEOUT_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(aws.READ_TIMEOUT_VARIABLE, given)
    assert aws.read_timeout_s() == seconds


@pytest.mark.parametrize("given", ["0", "301", "nan", "ten", "-5"])
def test_a_read_timeout_out_of_bounds_is_refused_with_its_name(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv(aws.READ_TIMEOUT_VARIABLE, given)
    with pytest.raises(ValueError, match="AWS_READ_TIMEOUT_S must be seconds from 1 to 300"):
        aws.read_timeout_s()
