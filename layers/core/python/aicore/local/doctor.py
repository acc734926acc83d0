"""`aicore doctor`: preflight checks before `cdk deploy -c env=<env> --all`.

Checks AWS credentials (STS), the region and, for a production environment, that cdk.json pins
it to the account and region in use, the CDK bootstrap stack (its SSM version parameter), the
SageMaker quotas for the instances the environment may scale to (Service Quotas), the Lambda
concurrency its reservations need, the licences of the models the tiers serve, and the node,
npm and CDK CLI versions; and what `aicore smoke` needs (its WebSocket client; once deployed, the
stack's URLs) and that the payment webhook's secret was put. Every failing check says how to fix
it. A check that cannot run fails with its error; none crashes the doctor.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from aicore.llm.endpoints_config import load_endpoints, non_commercial
from aicore.topology import SERVICE, TOPOLOGY, physical_name, scaled_reservation

REPO_ROOT = Path(__file__).resolve().parents[5]
BOOTSTRAP_QUALIFIER = "hnb659fds"  # the CDK default; cdk.json sets no other
MIN_BOOTSTRAP_VERSION = 6  # what the synthesized templates' CheckBootstrapVersion rule demands
MIN_NODE = 20
SUPPORTED_NODE = 22  # node 20 is end-of-life for jsii (aws-cdk-lib's runtime)
ENVIRONMENTS_KEY = "aicore:environments"
UNRESERVED_MINIMUM = 100  # Lambda keeps this much of an account's concurrency unreserved
CONCURRENCY_QUOTA = "L-B99A9384"  # Service Quotas: Lambda concurrent executions

Runner = Callable[[list[str]], str | None]


@dataclass(frozen=True)
class Result:
    name: str
    status: str  # "ok", "warn" (passes, with advice), "FAIL", "skip"
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"


def run_command(command: list[str]) -> str | None:
    """Output of a command, or None when it is missing or fails."""
    if shutil.which(command[0]) is None and not Path(command[0]).exists():
        return None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _major(version: str) -> int:
    return int(version.strip().lstrip("v").split(".")[0])


def environments(root: Path) -> list[str]:
    context = json.loads((root / "cdk.json").read_text(encoding="utf-8"))["context"]
    return list(context[ENVIRONMENTS_KEY])


def required_instances(env: str, root: Path) -> dict[str, int]:
    """Instances of each type the environment may scale to: cdk.json bounds times endpoints/*.json types."""
    context = json.loads((root / "cdk.json").read_text(encoding="utf-8"))["context"]
    environment = context[ENVIRONMENTS_KEY][env]
    endpoints = load_endpoints(root / "endpoints")
    needed: dict[str, int] = {}
    deployed = {t.name for t in TOPOLOGY.model_tiers}
    for tier, bounds in environment["endpoints"].items():
        if tier not in deployed:
            continue
        instance_type = endpoints[tier].instance_type
        needed[instance_type] = needed.get(instance_type, 0) + int(bounds["max_instances"])
    return needed


def _environment(env: str, root: Path) -> dict[str, Any]:
    context = json.loads((root / "cdk.json").read_text(encoding="utf-8"))["context"]
    environment: dict[str, Any] = context[ENVIRONMENTS_KEY][env]
    return environment


def configured_region(env: str, root: Path) -> str | None:
    region = _environment(env, root).get("region")
    return str(region) if region else None


def configured_account(env: str, root: Path) -> str | None:
    account = _environment(env, root).get("account")
    return str(account) if account else None


def is_production(env: str, root: Path) -> bool:
    return bool(_environment(env, root).get("production"))


def required_concurrency(env: str, root: Path) -> int:
    """The account concurrency the environment's reservations need (0: it reserves nothing)."""
    factor = float(_environment(env, root)["lambda"]["reserved_concurrency_factor"])
    reserved = [scaled_reservation(f.reserved_concurrency, factor) for f in TOPOLOGY.all_functions]
    total = sum(r for r in reserved if r)
    return total + UNRESERVED_MINIMUM if total else 0


def check_pinned(env: str, account: str | None, region: str | None, root: Path) -> Result:
    """A production environment deploys only to the account and region cdk.json pins it to."""
    if not is_production(env, root):
        return Result("pinned account", "ok", f"{env} is not a production environment: not pinned")
    pinned_account, pinned_region = configured_account(env, root), configured_region(env, root)
    if pinned_account is None or pinned_region is None:
        return Result(
            "pinned account",
            "FAIL",
            f"{env} is a production environment, but cdk.json pins no account or region",
            f'set "account" and "region" of "{env}" in cdk.json (context "{ENVIRONMENTS_KEY}"), '
            "and alarms.email; synth refuses it until then",
        )
    if account is not None and account != pinned_account:
        return Result(
            "pinned account",
            "FAIL",
            f"your credentials are for {account}, cdk.json pins {env} to {pinned_account}",
            f"use credentials for {pinned_account} (e.g. `export AWS_PROFILE=<its profile>`)",
        )
    return Result("pinned account", "ok", f"{env} is pinned to {pinned_account} in {pinned_region}")


def check_licences(root: Path) -> Result:
    """The models the deployed tiers serve: may a studio ship a game that uses them?"""
    endpoints = load_endpoints(root / "endpoints")
    deployed = {t.name: endpoints[t.name] for t in TOPOLOGY.model_tiers if t.name in endpoints}
    restricted = non_commercial(deployed)
    if restricted:
        names = ", ".join(
            f"{t} ({c.model.hf_model_id}: {c.licence.name})" for t, c in sorted(restricted.items())
        )
        return Result(
            "model licences",
            "warn",
            f"not licensed for commercial use: {names}",
            "serve a model your studio may ship (endpoints/<tier>.json; endpoints/options/ lists "
            "alternatives), or get the licensor's written permission",
        )
    licences = ", ".join(f"{t}: {c.licence.name}" for t, c in sorted(deployed.items()))
    return Result("model licences", "ok", licences)


def check_concurrency(client: Any, needed: int) -> Result:
    """The account's Lambda concurrency covers the environment's reservations plus 100 unreserved."""
    if needed == 0:
        return Result("Lambda concurrency", "ok", "this environment reserves none")
    try:
        limit = int(client.get_account_settings()["AccountLimit"]["ConcurrentExecutions"])
    except Exception as error:  # a doctor reports, never crashes
        return Result(
            "Lambda concurrency",
            "FAIL",
            f"cannot read the account's Lambda limits: {error}",
            "allow lambda:GetAccountSettings",
        )
    if limit < needed:
        return Result(
            "Lambda concurrency",
            "FAIL",
            f"{limit} concurrent executions; the reservations need {needed} (they plus 100 unreserved)",
            f"aws service-quotas request-service-quota-increase --service-code lambda "
            f"--quota-code {CONCURRENCY_QUOTA} --desired-value {max(needed, 1000)}",
        )
    return Result("Lambda concurrency", "ok", f"{limit} allowed, {needed} needed")


def check_credentials(session: boto3.session.Session) -> tuple[Result, str | None]:
    fix = (
        "configure credentials: `aws configure`, or `aws sso login --profile NAME` then "
        "`export AWS_PROFILE=NAME`, or set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
    )
    try:
        identity = session.client("sts", region_name=session.region_name or "us-east-1").get_caller_identity()
    except Exception as error:  # a doctor reports, never crashes
        return Result("AWS credentials", "FAIL", f"STS GetCallerIdentity failed: {error}", fix), None
    account = str(identity["Account"])
    return Result("AWS credentials", "ok", f"account {account} as {identity['Arn']}"), account


def check_region(region: str | None, expected: str | None) -> Result:
    if not region:
        return Result(
            "region",
            "FAIL",
            "no region: boto3 found none",
            "`export AWS_REGION=us-east-1` (or `aws configure set region us-east-1`), or pass --region",
        )
    if expected and expected != region:
        return Result(
            "region",
            "FAIL",
            f"{region}, but cdk.json pins this environment to {expected}",
            f"`export AWS_REGION={expected}` or pass --region {expected}",
        )
    return Result("region", "ok", region)


def check_bootstrap(session: boto3.session.Session, account: str, region: str) -> Result:
    parameter = f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version"
    fix = f"npx cdk bootstrap aws://{account}/{region}"
    ssm = session.client("ssm", region_name=region)
    try:
        version = int(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        detail = f"{account}/{region} is not bootstrapped ({parameter} missing)"
        return Result("CDK bootstrap", "FAIL", detail, fix)
    except Exception as error:
        return Result("CDK bootstrap", "FAIL", f"cannot read {parameter}: {error}", fix)
    if version < MIN_BOOTSTRAP_VERSION:
        detail = f"version {version}; these templates need {MIN_BOOTSTRAP_VERSION} or later"
        return Result("CDK bootstrap", "FAIL", detail, fix)
    return Result("CDK bootstrap", "ok", f"version {version} in {account}/{region}")


def _quotas(client: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = client.list_service_quotas(ServiceCode="sagemaker", **({"NextToken": token} if token else {}))
        yield from page.get("Quotas", [])
        token = page.get("NextToken")
        if not token:
            return


def check_quotas(client: Any, region: str, needed: Mapping[str, int]) -> list[Result]:
    """One result per instance type: its endpoint quota against the environment's maximum."""
    try:
        by_name = {q["QuotaName"]: q for q in _quotas(client)}
    except Exception as error:
        names = ", ".join(f"'{t} for endpoint usage' >= {n}" for t, n in needed.items())
        return [
            Result(
                "SageMaker quotas",
                "FAIL",
                f"cannot read SageMaker quotas in {region}: {error}",
                f"allow servicequotas:ListServiceQuotas, or check in the Service Quotas console: {names}",
            )
        ]
    results = []
    for instance_type, count in sorted(needed.items()):
        name = f"{instance_type} for endpoint usage"
        quota = by_name.get(name)
        if quota is None:
            results.append(
                Result(
                    f"quota {instance_type}",
                    "FAIL",
                    f"no quota named {name!r} in {region}",
                    "check that SageMaker offers this instance type in the region (Service Quotas console)",
                )
            )
            continue
        value = int(quota["Value"])
        if value < count:
            results.append(
                Result(
                    f"quota {instance_type}",
                    "FAIL",
                    f"{value} allowed, the environment may scale to {count}",
                    f"aws service-quotas request-service-quota-increase --service-code sagemaker "
                    f"--quota-code {quota['QuotaCode']} --desired-value {count} --region {region}",
                )
            )
        else:
            results.append(Result(f"quota {instance_type}", "ok", f"{value} allowed, {count} needed"))
    return results


def check_node(run: Runner) -> Result:
    version = run(["node", "--version"])
    fix = f"install Node.js {SUPPORTED_NODE} LTS (nodejs.org, nvm, or your package manager)"
    if version is None:
        return Result("node", "FAIL", "node not found", fix)
    major = _major(version)
    if major < MIN_NODE:
        return Result("node", "FAIL", f"{version} is too old for the CDK CLI", fix)
    if major < SUPPORTED_NODE:
        return Result("node", "warn", f"{version} works, but jsii (aws-cdk-lib) no longer supports it", fix)
    return Result("node", "ok", version)


def check_npm(run: Runner) -> Result:
    version = run(["npm", "--version"])
    if version is None:
        return Result("npm", "FAIL", "npm not found", "install Node.js (it ships npm)")
    return Result("npm", "ok", version)


def check_cdk_cli(run: Runner, root: Path) -> Result:
    cli = root / "node_modules" / ".bin" / "cdk"
    fix = "`npm ci` in the repository (installs the pinned aws-cdk 2.x CLI)"
    version = run([str(cli), "--version"])
    if version is None:
        return Result("CDK CLI", "FAIL", f"{cli} not found", fix)
    if _major(version) != 2:
        return Result("CDK CLI", "FAIL", f"{version}: only the 2.x CLI reads aws-cdk-lib 2.x assemblies", fix)
    return Result("CDK CLI", "ok", version.split()[0])


def check_smoke(session: boto3.session.Session, env: str, region: str) -> list[Result]:
    """What `aicore smoke` needs: its WebSocket client and, once deployed, the stack's URLs; and, once
    deployed, the payment provider's webhook secret put (until then no delivery verifies)."""
    try:
        import websockets  # noqa: F401

        results = [Result("smoke client", "ok", "websockets is installed")]
    except ImportError:
        results = [Result("smoke client", "FAIL", "websockets is missing", "pip install '.[local]'")]
    stack_name = f"{SERVICE}-{env}"
    try:
        stacks = session.client("cloudformation", region_name=region).describe_stacks(StackName=stack_name)
    except Exception as error:
        if "does not exist" in str(error):
            detail = f"{stack_name} is not deployed yet; after the deploy: aicore smoke --env {env}"
            return [*results, Result("deployed stack", "ok", detail)]
        return [*results, Result("deployed stack", "FAIL", f"cannot describe {stack_name}: {error}")]
    stack = stacks["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if not {"HttpUrl", "WebSocketUrl"} <= set(outputs):
        fix = f"npx cdk deploy -c env={env} --all"
        results.append(
            Result("deployed stack", "FAIL", f"{stack_name} has no HttpUrl/WebSocketUrl outputs", fix)
        )
    else:
        detail = f"{stack['StackStatus']}, HTTP API {outputs['HttpUrl']}: aicore smoke --env {env}"
        results.append(Result("deployed stack", "ok", detail))
    return results + [
        check_operator_secret(session, physical_name(env, s.name), region) for s in TOPOLOGY.secrets
    ]


def check_operator_secret(session: boto3.session.Session, name: str, region: str) -> Result:
    """A secret the operator must put after the deploy: CloudFormation's placeholder is its only version."""
    try:
        described = session.client("secretsmanager", region_name=region).describe_secret(SecretId=name)
    except Exception as error:
        return Result(f"secret {name}", "FAIL", f"cannot describe it: {error}", "deploy the stack first")
    if len(described.get("VersionIdsToStages", {})) < 2:
        fix = f"aws secretsmanager put-secret-value --secret-id {name} --secret-string whsec_..."
        return Result(f"secret {name}", "warn", "still the deploy's placeholder: no webhook verifies", fix)
    return Result(f"secret {name}", "ok", "put by the operator")


def diagnose(
    env: str,
    *,
    session: boto3.session.Session,
    region: str | None = None,
    root: Path = REPO_ROOT,
    run: Runner | None = None,
    quotas_client: Any = None,
    lambda_client: Any = None,
) -> list[Result]:
    run = run or run_command
    known = environments(root)
    if env not in known:
        detail = f"no environment {env!r} in cdk.json"
        return [Result("environment", "FAIL", detail, f"--env {'|'.join(known)}")]
    results: list[Result] = []
    credentials, account = check_credentials(session)
    results.append(credentials)
    region = region or session.region_name
    results.append(check_region(region, configured_region(env, root)))
    results.append(check_pinned(env, account, region, root))
    if account and region:
        results.append(check_bootstrap(session, account, region))
        client = quotas_client or session.client("service-quotas", region_name=region)
        results += check_quotas(client, region, required_instances(env, root))
        lambdas = lambda_client or session.client("lambda", region_name=region)
        results.append(check_concurrency(lambdas, required_concurrency(env, root)))
        results += check_smoke(session, env, region)
    else:
        results.append(Result("CDK bootstrap and quotas", "skip", "need credentials and a region first"))
    results += [check_licences(root), check_node(run), check_npm(run), check_cdk_cli(run, root)]
    return results


def render(env: str, results: list[Result]) -> str:
    lines = [f"aicore doctor: environment {env}"]
    for r in results:
        lines.append(f"  {r.status:<5} {r.name:<22} {r.detail}")
        if r.fix and r.status in ("FAIL", "warn"):
            lines.append(f"  {'':<5} {'':<22} fix: {r.fix}")
    failed = sum(r.failed for r in results)
    lines.append("ready to deploy" if not failed else f"{failed} check(s) failed")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aicore doctor", description="preflight checks before `cdk deploy`")
    parser.add_argument("--env", default="dev", help="environment in cdk.json (dev, staging, prod)")
    parser.add_argument("--region", help="AWS region (default: the profile's or AWS_REGION)")
    parser.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or the default profile)")
    args = parser.parse_args(argv)
    try:
        session = boto3.session.Session(profile_name=args.profile)
    except Exception as error:
        print(f"aicore doctor: cannot open AWS profile {args.profile!r}: {error}", file=sys.stderr)
        return 1
    results = diagnose(args.env, session=session, region=args.region)
    print(render(args.env, results))
    return 1 if any(r.failed for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
