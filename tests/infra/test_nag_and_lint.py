"""cdk-nag (AwsSolutions) has no unacknowledged finding, every acknowledgment says why (nested
stacks included); cfn-lint passes on every template, nested ones included."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from aws_cdk import App, NestedStack, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from cdk.nag import acknowledge, check, reference, wildcard_resource
from cdk.sources import REPO_ROOT
from tests.infra.conftest import ENVIRONMENTS, FIXTURE, Synth

ACKNOWLEDGED = "aws:cdk:acknowledged-rules"
# aws-cdk-lib's own acknowledgment of its CloudFormation validation (S3 lifecycle size filters are
# numbers in CDK, strings in the schema): made by the library wherever a rule filters on size.
CDK_OWN = {"CloudFormation-Validate::W9003"}
# CDK puts a function's role in its DependsOn, which its Role GetAtt already implies: harmless.
CFN_LINT_IGNORED = ("W3005",)


def acknowledgments(synth: Synth, env: str) -> dict[tuple[str, str], str]:
    found = {}
    for path, entries in synth.metadata[env].items():
        for entry in entries:
            if entry["type"] == ACKNOWLEDGED:
                for rule, reason in entry["data"].items():
                    found[(path, rule.removeprefix("Annotation::"))] = reason
    return found


def test_synth_passes_aws_solutions_checks(synth: Synth) -> None:
    assert synth.validation_error is None, synth.validation_error
    report = synth.outdir / "validation-report.json"
    if report.exists():  # written when something was acknowledged: nothing may be left unacknowledged
        plugins = json.loads(report.read_text(encoding="utf-8"))["pluginReports"]
        assert [v for p in plugins for v in p["violations"]] == []


@pytest.mark.parametrize("env", [*ENVIRONMENTS, FIXTURE])
def test_every_acknowledgment_names_one_rule_and_says_why(synth: Synth, env: str) -> None:
    acks = acknowledgments(synth, env)
    assert acks
    for (path, rule), reason in acks.items():
        assert rule.startswith("AwsSolutions-") or rule in CDK_OWN, (path, rule)
        assert len(reason.split()) >= 6, (path, rule, reason)
        if rule.startswith("AwsSolutions-IAM"):
            assert "[" in rule, (
                f"{path}: acknowledge IAM findings one resource or action at a time, not {rule}"
            )


def test_acknowledged_rules_are_the_known_few(synth: Synth) -> None:
    rules = {rule.split("[")[0] for env in synth.metadata for _, rule in acknowledgments(synth, env)}
    assert rules <= {
        "AwsSolutions-L1",  # Python 3.12 on purpose (the dependencies layer is built for cp312)
        "AwsSolutions-IAM4",  # API Gateway's own logging policy on its account-level role
        "AwsSolutions-IAM5",  # X-Ray, ECR token, log delivery; bucket objects; indexes; connections; :*
        "AwsSolutions-S1",  # the access-log bucket itself
        "AwsSolutions-SQS3",  # dead-letter queues are the DLQs
        "AwsSolutions-SMG4",  # the token-signing key rotates by runbook
        "AwsSolutions-APIG4",  # WebSocket frames after $connect; routes declared unauthorized
        "AwsSolutions-SF2",  # CDK's custom resource waiter state machine takes no X-Ray setting
        *CDK_OWN,
    }


# cfn-lint reads each template in about 5 s of CPU (29 templates: 2-3 minutes on one core): one
# process per synthesized stage, two at a time, under a limit of its own.
@pytest.mark.timeout(900)
def test_cfn_lint_passes_on_every_template(synth: Synth) -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")

    def lint(paths: list[Path]) -> subprocess.CompletedProcess[str]:
        command = [str(cfn_lint), "--ignore-checks", *CFN_LINT_IGNORED, "--", *(str(p) for p in paths)]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lint, synth.template_files.values()))
    failed = [d.stdout + d.stderr for d in done if d.returncode != 0]
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("env", [*ENVIRONMENTS, FIXTURE])
def test_synth_builds_nothing_it_only_stages_what_was_built_before(synth: Synth, env: str) -> None:
    # No container image to build at deploy, no asset built by a command: every asset is a copy of
    # a local folder or file (`make cdk-assets` built the rest; a missing build fails the synth)
    [manifest] = (synth.outdir / f"assembly-aicore-{env}").glob("*.assets.json")
    assets = json.loads(manifest.read_text(encoding="utf-8"))
    assert assets.get("dockerImages", {}) == {}
    sources = [asset["source"] for asset in assets["files"].values()]
    assert sources
    assert all(set(source) == {"path", "packaging"} for source in sources), sources


@pytest.mark.skipif(not (REPO_ROOT / "node_modules" / ".bin" / "cdk").exists(), reason="npm ci not run")
def test_the_pinned_cdk_cli_reads_the_assembly(synth: Synth) -> None:
    cli = REPO_ROOT / "node_modules" / ".bin" / "cdk"
    done = subprocess.run(
        [str(cli), "ls", "--app", str(synth.outdir), "--no-notices", "--no-version-reporting"],
        capture_output=True,
        text=True,
        check=False,
        cwd=synth.outdir.parent,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for env in ENVIRONMENTS:
        assert f"aicore-{env}" in done.stdout
    assert shutil.which("node")


def _nested_wildcard_app(outdir: Path, *, acknowledged: bool) -> App:
    """A stack whose nested stack grants a role the objects of a bucket in the parent."""
    app = App(outdir=str(outdir))
    parent = Stack(app, "parent")
    bucket = s3.Bucket(parent, "bucket", enforce_ssl=True, server_access_logs_prefix="logs/")
    nested = NestedStack(parent, "nested")
    role = iam.Role(nested, "role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects("*")]))
    if acknowledged:
        objects = wildcard_resource(f"{reference(role, bucket)}/*")
        acknowledge(role, objects, "objects are keyed by ids made at run time")
    check(app)
    return app


def test_cdk_nag_checks_nested_stacks_and_names_what_they_take_from_the_parent(tmp_path: Path) -> None:
    # Given a wildcard on a parent's bucket, granted in a nested stack, and nothing acknowledged
    with pytest.raises(RuntimeError) as failure:
        _nested_wildcard_app(tmp_path / "bare", acknowledged=False).synth()
    # Then cdk-nag finds it, naming the bucket by the nested stack's parameter
    assert "parent/nested/role/DefaultPolicy/Resource" in str(failure.value)
    finding = "AwsSolutions-IAM5[Resource::<referencetoparentbucket"
    assert finding in str(failure.value)
    # And the acknowledgment `reference` writes is the one that finding needs
    _nested_wildcard_app(tmp_path / "acknowledged", acknowledged=True).synth()
