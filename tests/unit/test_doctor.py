"""`aicore doctor` against moto: STS, SSM (the bootstrap parameter) and Service Quotas."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from aicore.local import doctor
from aicore.local.doctor import Result, diagnose, render, required_concurrency, required_instances

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's
BOOTSTRAP = "/cdk-bootstrap/hnb659fds/version"


class FakeQuotas:
    """Service Quotas' `list_service_quotas`, in two pages (moto does not implement it)."""

    def __init__(self, values: dict[str, int]) -> None:
        self._quotas = [
            {"QuotaName": f"{t} for endpoint usage", "QuotaCode": f"L-{i:08d}", "Value": float(v)}
            for i, (t, v) in enumerate(values.items())
        ]

    def list_service_quotas(self, ServiceCode: str, NextToken: str | None = None) -> dict[str, Any]:  # noqa: N803
        assert ServiceCode == "sagemaker"
        if NextToken is None:
            return {"Quotas": self._quotas[:1], "NextToken": "page-2"}
        return {"Quotas": self._quotas[1:]}


class FakeLambda:
    """Lambda's `get_account_settings`: the account's concurrency limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def get_account_settings(self) -> dict[str, Any]:
        return {"AccountLimit": {"ConcurrentExecutions": self.limit}}


def project(tmp_path: Path, account: str | None = ACCOUNT, gold: str | None = None) -> Path:
    """A copy of cdk.json and endpoints/ with prod pinned (as a studio pins it) and, optionally,
    gold serving one of endpoints/options/."""
    root = tmp_path / "project"
    shutil.copytree(doctor.REPO_ROOT / "endpoints", root / "endpoints")
    cdk_json = json.loads((doctor.REPO_ROOT / "cdk.json").read_text())
    prod = cdk_json["context"]["aicore:environments"]["prod"]
    prod["account"], prod["region"] = account, REGION
    prod["alarms"]["email"] = ["oncall@example.com"]
    (root / "cdk.json").write_text(json.dumps(cdk_json))
    if gold:
        option = json.loads((root / "endpoints" / "options" / f"{gold}.json").read_text())
        (root / "endpoints" / "gold.json").write_text(json.dumps({**option, "tier": "gold"}))
    return root


def node_22(command: list[str]) -> str | None:
    return {"node": "v22.11.0", "npm": "10.9.0"}.get(command[0], "2.1148.1 (build fcf5e34)")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.session.Session]:
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.session.Session(region_name=REGION)


def bootstrap(session: boto3.session.Session, version: str = "28") -> None:
    session.client("ssm").put_parameter(Name=BOOTSTRAP, Value=version, Type="String")


def by_name(results: list[Result]) -> dict[str, Result]:
    return {r.name: r for r in results}


def test_a_ready_account_passes_every_check(aws: boto3.session.Session, tmp_path: Path) -> None:
    # Given prod pinned to this account, bootstrapped, with quota for its largest scale, and node 22
    bootstrap(aws)
    root = project(tmp_path)
    needed = required_instances("prod", root)
    quotas = FakeQuotas({t: n + 2 for t, n in needed.items()})

    # When the doctor runs
    results = diagnose(
        "prod", session=aws, root=root, run=node_22, quotas_client=quotas, lambda_client=FakeLambda(1000)
    )

    # Then everything is ok, the account is moto's, and the report says so
    assert [r for r in results if r.status != "ok"] == []
    assert ACCOUNT in by_name(results)["AWS credentials"].detail
    assert {f"quota {t}" for t in needed} <= set(by_name(results))
    assert (
        by_name(results)["model licences"].detail == "embed: Apache-2.0, gold: Apache-2.0, silver: Apache-2.0"
    )
    assert render("prod", results).endswith("ready to deploy")


def test_prod_must_be_pinned_to_the_account_in_use(aws: boto3.session.Session, tmp_path: Path) -> None:
    bootstrap(aws)
    unpinned = by_name(diagnose("prod", session=aws, run=node_22, quotas_client=FakeQuotas({})))
    assert unpinned["pinned account"].failed  # the repository's cdk.json leaves prod to the studio
    assert 'set "account" and "region" of "prod" in cdk.json' in unpinned["pinned account"].fix
    elsewhere = project(tmp_path, account="999999999999")
    other = by_name(diagnose("prod", session=aws, root=elsewhere, run=node_22, quotas_client=FakeQuotas({})))
    assert other["pinned account"].failed
    assert (
        other["pinned account"].detail
        == f"your credentials are for {ACCOUNT}, cdk.json pins prod to 999999999999"
    )
    assert (
        by_name(diagnose("dev", session=aws, run=node_22, quotas_client=FakeQuotas({})))[
            "pinned account"
        ].status
        == "ok"
    )


def test_a_model_a_studio_may_not_ship_is_a_warning(aws: boto3.session.Session, tmp_path: Path) -> None:
    # Given gold switched back to the seed's Qwen2.5-3B (Qwen Research licence)
    root = project(tmp_path, gold="gold-qwen2.5-3b-instruct-awq")
    results = by_name(diagnose("dev", session=aws, root=root, run=node_22, quotas_client=FakeQuotas({})))
    licences = results["model licences"]
    assert licences.status == "warn"
    assert "gold (Qwen/Qwen2.5-3B-Instruct-AWQ: Qwen Research License)" in licences.detail
    assert "endpoints/options/" in licences.fix
    assert "fix: serve a model your studio may ship" in render("dev", list(results.values()))


def test_reserved_concurrency_needs_an_account_limit_that_fits(
    aws: boto3.session.Session, tmp_path: Path
) -> None:
    bootstrap(aws)
    root = project(tmp_path)
    assert required_concurrency("dev", root) == 0  # dev reserves nothing
    needed = required_concurrency("prod", root)
    assert needed == 300 + 50 + 50 + 100
    results = by_name(
        diagnose(
            "prod",
            session=aws,
            root=root,
            run=node_22,
            quotas_client=FakeQuotas({}),
            lambda_client=FakeLambda(10),
        )
    )
    check = results["Lambda concurrency"]
    assert check.failed
    assert "--service-code lambda --quota-code L-B99A9384 --desired-value 1000" in check.fix


def test_required_instances_add_up_the_tiers_max_bounds() -> None:
    # prod in cdk.json: gold up to 8 ml.g5.xlarge, silver up to 6 ml.g5.2xlarge
    assert required_instances("prod", doctor.REPO_ROOT) == {
        "ml.g5.xlarge": 8,
        "ml.g5.2xlarge": 6,
        "ml.c6i.xlarge": 4,
    }


def test_missing_bootstrap_says_the_bootstrap_command(aws: boto3.session.Session) -> None:
    results = by_name(diagnose("dev", session=aws, run=node_22, quotas_client=FakeQuotas({})))
    check = results["CDK bootstrap"]
    assert check.failed
    assert check.fix == f"npx cdk bootstrap aws://{ACCOUNT}/{REGION}"


def test_an_old_bootstrap_fails(aws: boto3.session.Session) -> None:
    bootstrap(aws, "5")
    check = by_name(diagnose("dev", session=aws, run=node_22, quotas_client=FakeQuotas({})))["CDK bootstrap"]
    assert check.failed
    assert "need 6" in check.detail


def test_a_low_quota_says_how_to_request_more(aws: boto3.session.Session) -> None:
    bootstrap(aws)
    quotas = FakeQuotas({"ml.g5.xlarge": 2, "ml.g5.2xlarge": 10})
    results = by_name(
        diagnose("prod", session=aws, run=node_22, quotas_client=quotas, lambda_client=FakeLambda(1000))
    )
    low = results["quota ml.g5.xlarge"]
    assert low.failed
    assert "--service-code sagemaker --quota-code L-00000000 --desired-value 8 --region us-east-1" in low.fix
    assert results["quota ml.g5.2xlarge"].status == "ok"


def test_unreadable_quotas_fail_with_what_to_check(aws: boto3.session.Session) -> None:
    # moto's own Service Quotas cannot list SageMaker quotas: the check fails, the doctor does not crash
    bootstrap(aws)
    results = diagnose("dev", session=aws, run=node_22)
    check = by_name(results)["SageMaker quotas"]
    assert check.failed
    assert "'ml.g5.xlarge for endpoint usage' >= 1" in check.fix


def test_no_credentials_and_no_region_say_how_to_configure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")

    results = by_name(diagnose("dev", session=boto3.session.Session(), run=node_22))

    assert results["AWS credentials"].failed
    assert "aws configure" in results["AWS credentials"].fix
    assert results["region"].failed
    assert "AWS_REGION" in results["region"].fix
    assert results["CDK bootstrap and quotas"].status == "skip"


def test_node_npm_and_cdk_versions(aws: boto3.session.Session) -> None:
    def old_tools(command: list[str]) -> str | None:
        return {"node": "v18.20.0", "npm": None}.get(command[0], "3.0.0 (build abc)")

    def node_20(command: list[str]) -> str | None:
        return "v20.20.2" if command[0] == "node" else node_22(command)

    results = by_name(diagnose("dev", session=aws, run=old_tools, quotas_client=FakeQuotas({})))
    assert results["node"].failed
    assert results["npm"].failed
    assert results["CDK CLI"].failed
    assert "npm ci" in results["CDK CLI"].fix
    assert (
        by_name(diagnose("dev", session=aws, run=node_20, quotas_client=FakeQuotas({})))["node"].status
        == "warn"
    )


def test_unknown_environment(aws: boto3.session.Session) -> None:
    (result,) = diagnose("qa", session=aws, run=node_22)
    assert result.failed
    assert result.fix == "--env dev|staging|prod"


def test_main_exits_non_zero_when_a_check_fails(
    aws: boto3.session.Session, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(doctor, "run_command", node_22)
    assert doctor.main(["--env", "dev", "--region", REGION]) == 1  # not bootstrapped
    assert "fix: npx cdk bootstrap" in capsys.readouterr().out


def test_smoke_needs_the_deployed_stack_s_urls_and_the_webhook_secret_put(aws: boto3.session.Session) -> None:
    # Given no stack yet: the doctor says how to smoke-test after the deploy
    before = by_name(doctor.check_smoke(aws, "dev", REGION))
    assert before["smoke client"].status == "ok"
    assert (before["deployed stack"].status, "aicore smoke --env dev" in before["deployed stack"].detail) == (
        "ok",
        True,
    )

    # When the stack is deployed, its webhook secret still the deploy's placeholder
    template = {
        "Resources": {"Alarms": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "HttpUrl": {"Value": "https://api.example.com/"},
            "WebSocketUrl": {"Value": "wss://ws.example.com/dev"},
        },
    }
    aws.client("cloudformation").create_stack(StackName="aicore-dev", TemplateBody=json.dumps(template))
    secrets = aws.client("secretsmanager")
    secrets.create_secret(Name="aicore-dev-payments-webhook-secret", SecretString="generated")
    deployed = by_name(doctor.check_smoke(aws, "dev", REGION))

    # Then the stack's URL is there, and the secret is a warning that says how to put it
    assert "https://api.example.com/" in deployed["deployed stack"].detail
    secret = deployed["secret aicore-dev-payments-webhook-secret"]
    assert (secret.status, "put-secret-value" in secret.fix) == ("warn", True)
    secrets.put_secret_value(SecretId="aicore-dev-payments-webhook-secret", SecretString="whsec_real")
    assert (
        by_name(doctor.check_smoke(aws, "dev", REGION))["secret aicore-dev-payments-webhook-secret"].status
        == "ok"
    )
