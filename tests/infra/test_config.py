"""Per-environment config from cdk.json context, build inputs, image lookups: no synth needed."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from aicore.llm.endpoints_config import EndpointConfig, load_endpoint
from aicore.topology import TOPOLOGY, StateMachine
from cdk.app import build_app, cdk_json_context
from cdk.build_assets import _prune, layer_requirements
from cdk.config import UNRESERVED_MINIMUM, ConfigError, load_environment, selected_environments
from cdk.images import ImageResolutionError, SdkImageUris, cuda_version, repository_arn
from cdk.model_tier import check_ami
from cdk.sources import REPO_ROOT, MissingBuildError, Sources
from cdk.state_machines import StateMachineError, check_definitions, placeholders
from tests.infra.conftest import PROD_PIN, pinned_context

CONTEXT = cdk_json_context(REPO_ROOT)
PINNED = pinned_context()


def test_every_environment_in_cdk_json_is_valid() -> None:
    for env in ("dev", "staging"):
        config = load_environment(env, CONTEXT, {})
        assert config.name == env
        assert config.region == "us-east-1"  # the fallback: no context, no variables
        assert config.account is None
        assert not config.production
        assert set(config.endpoints) >= {t.name for t in TOPOLOGY.model_tiers}
    prod = load_environment("prod", PINNED, {})
    assert prod.production
    assert (prod.account, prod.region) == (PROD_PIN["account"], PROD_PIN["region"])
    assert set(prod.endpoints) >= {t.name for t in TOPOLOGY.model_tiers}


def test_prod_refuses_to_synthesize_until_cdk_json_pins_it() -> None:
    # Given cdk.json as the repository ships it (prod's account and region are null)
    # When prod is loaded, even with credentials and variables that name an account
    environ = {"CDK_DEFAULT_ACCOUNT": "111111111111", "CDK_DEFAULT_REGION": "us-west-2"}
    # Then it says what to set, and where
    with pytest.raises(ConfigError, match=r'"prod" -> "account" \(12 digits\) and "region"'):
        load_environment("prod", CONTEXT, environ)
    with pytest.raises(ConfigError, match=r'"prod" -> "account"'):
        load_environment("prod", {**CONTEXT, "account": "111111111111", "region": "us-west-2"}, environ)


def test_a_pinned_prod_ignores_variables_and_refuses_another_account() -> None:
    environ = {
        "CDK_DEFAULT_ACCOUNT": "111111111111",
        "CDK_DEFAULT_REGION": "us-west-2",
        "AWS_REGION": "us-west-2",
    }
    prod = load_environment("prod", PINNED, environ)
    assert (prod.account, prod.region) == (PROD_PIN["account"], PROD_PIN["region"])
    with pytest.raises(ConfigError, match=r"-c account=111111111111 contradicts prod's pinned account"):
        load_environment("prod", {**PINNED, "account": "111111111111"}, environ)
    with pytest.raises(ConfigError, match=r"-c region=us-west-2 contradicts"):
        load_environment("prod", {**PINNED, "region": "us-west-2"}, environ)
    assert (
        load_environment("prod", {**PINNED, "account": PROD_PIN["account"]}, environ).account
        == PROD_PIN["account"]
    )


def test_a_production_environment_needs_someone_to_hear_its_alarms() -> None:
    context = json.loads(json.dumps(PINNED))
    context["aicore:environments"]["prod"]["alarms"]["email"] = []
    with pytest.raises(ConfigError, match=r"set alarms\.email"):
        load_environment("prod", context, {})
    context["aicore:environments"]["prod"]["alarms"]["https"] = ["https://hooks.example.com/aicore"]
    assert load_environment("prod", context, {}).alarms.subscribers == 1


def test_alarm_email_takes_one_address_or_several() -> None:
    context = json.loads(json.dumps(CONTEXT))
    context["aicore:environments"]["dev"]["alarms"]["email"] = "dev@example.com"
    assert load_environment("dev", context, {}).alarms.email == ["dev@example.com"]
    context["aicore:environments"]["dev"]["alarms"]["email"] = ["a@example.com", "b@example.com"]
    assert load_environment("dev", context, {}).alarms.subscribers == 2
    context["aicore:environments"]["dev"]["alarms"]["email"] = ["not an address"]
    with pytest.raises(ConfigError, match="email"):
        load_environment("dev", context, {})


def test_account_and_region_come_from_context_then_variables() -> None:
    environ = {
        "CDK_DEFAULT_ACCOUNT": "111111111111",
        "CDK_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "us-west-2",
    }
    assert load_environment("dev", CONTEXT, environ).account == "111111111111"
    assert load_environment("dev", CONTEXT, environ).region == "eu-west-1"
    assert load_environment("dev", CONTEXT, {"AWS_REGION": "us-west-2"}).region == "us-west-2"
    explicit = {**CONTEXT, "account": "222222222222", "region": "ap-southeast-2"}
    assert load_environment("dev", explicit, environ).account == "222222222222"
    assert load_environment("dev", explicit, environ).region == "ap-southeast-2"
    pinned = json.loads(json.dumps(CONTEXT))
    pinned["aicore:environments"]["staging"]["region"] = "eu-central-1"
    assert load_environment("staging", pinned, environ).region == "eu-central-1"


def test_environment_selection() -> None:
    assert selected_environments("dev", CONTEXT) == ["dev"]
    assert selected_environments("dev,prod", CONTEXT) == ["dev", "prod"]
    assert selected_environments("all", CONTEXT) == ["dev", "staging", "prod"]
    with pytest.raises(ConfigError, match=re.escape("-c env=<dev|staging|prod|all>")):
        selected_environments(None, CONTEXT)
    with pytest.raises(ConfigError, match="unknown environment qa"):
        selected_environments("qa", CONTEXT)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"log_retention_days": 10}, "log_retention_days must be one of"),
        (
            {"endpoints": {"gold": {"initial_instances": 1, "min_instances": 3, "max_instances": 2}}},
            "min_instances",
        ),
        ({"lambda": {"memory_factor": 0, "log_level": "INFO"}}, "memory_factor"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_an_invalid_environment_says_what_is_wrong(change: dict[str, Any], message: str) -> None:
    context = json.loads(json.dumps(CONTEXT))
    context["aicore:environments"]["dev"].update(change)
    with pytest.raises(ConfigError, match=message):
        load_environment("dev", context, {})


def test_reserved_concurrency_scales_per_environment_and_fits_the_account() -> None:
    dev, staging = load_environment("dev", CONTEXT, {}), load_environment("staging", CONTEXT, {})
    prod = load_environment("prod", PINNED, {})
    functions = TOPOLOGY.all_functions
    # dev reserves nothing: a new account's limit is 10, and any reservation would fail the deploy
    assert {f.name: dev.reserved_concurrency(f.reserved_concurrency) for f in functions} == dict.fromkeys(
        (f.name for f in functions), None
    )
    reserved = {f.name: prod.reserved_concurrency(f.reserved_concurrency) for f in functions}
    assert (reserved["npc-say"], reserved["authorizer"], reserved["ws-connect"]) == (300, 50, 50)
    # a flood of npc.say cannot take the account: its ceiling plus the doors' floors leave room
    assert sum(r for r in reserved.values() if r) + UNRESERVED_MINIMUM <= 1000  # the default account limit
    assert staging.reserved_concurrency(300) == 60
    assert staging.reserved_concurrency(None) is None
    assert prod.reserved_concurrency(1) == 1


def test_memory_follows_the_factor_within_lambda_limits() -> None:
    config = load_environment("dev", CONTEXT, {})
    assert config.memory_mb(1024) == round(1024 * config.lambda_.memory_factor)
    half = config.model_copy(update={"lambda_": config.lambda_.model_copy(update={"memory_factor": 0.05})})
    assert half.memory_mb(512) == 128


def test_missing_builds_fail_synth_with_the_command_to_run(tmp_path: Path) -> None:
    with pytest.raises(MissingBuildError, match="make cdk-assets"):
        build_app(context={**CONTEXT, "env": "dev"}, environ={}, sources=Sources(build=tmp_path))


def test_dependencies_layer_takes_every_runtime_dependency_pinned_boto3_included() -> None:
    requirements = layer_requirements(REPO_ROOT / "pyproject.toml")
    names = {r.split("=")[0].split("[")[0] for r in requirements}
    assert {"pydantic", "aws-lambda-powertools", "pyjwt", "numpy", "tokenizers", "boto3"} <= names
    assert "pydantic-settings" not in names
    assert all("==" in r for r in requirements)


def test_prune_removes_what_must_not_ship(tmp_path: Path) -> None:
    for name in ("bin", "botocore", "botocore-1.0.dist-info", "pydantic", "six.py", "__pycache__"):
        (tmp_path / name).mkdir() if not name.endswith(".py") else (tmp_path / name).write_text("")
    _prune(tmp_path, ("bin",))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "botocore",
        "botocore-1.0.dist-info",
        "pydantic",
        "six.py",
    ]


def test_an_unpinned_runtime_dependency_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\ndependencies = ["boto3>=1.40", "pyjwt==2.15.1"]\n')
    with pytest.raises(ValueError, match=r"pin every runtime dependency.*boto3>=1\.40"):
        layer_requirements(tmp_path / "pyproject.toml")


def test_the_inference_ami_runs_the_containers_cuda() -> None:
    gold = load_endpoint(REPO_ROOT / "endpoints" / "gold.json")
    lmi = "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.35.0-lmi17.0.0-cu128"
    assert cuda_version(lmi) == (12, 8)
    check_ami("gold", gold, lmi)  # AL2023 gpu-4-1: driver 580, CUDA 13.0 >= 12.8
    older = gold.model_copy(update={"inference_ami_version": "al2-ami-sagemaker-inference-gpu-3-1"})
    with pytest.raises(
        ValueError, match=r"built for CUDA 12\.8, but al2-ami-sagemaker-inference-gpu-3-1 runs CUDA 12\.4"
    ):
        check_ami("gold", older, lmi)
    with pytest.raises(ValueError, match="cannot tell the CUDA version"):
        check_ami("gold", gold, "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:latest")


def test_repository_arn_of_an_image() -> None:
    uri = "763104351884.dkr.ecr.eu-west-1.amazonaws.com/djl-inference:0.33.0-lmi15.0.0-cu128"
    assert repository_arn(uri, "aws") == "arn:aws:ecr:eu-west-1:763104351884:repository/djl-inference"


def test_image_lookup_without_the_sdk_says_so(tmp_path: Path) -> None:
    from cdk.images import ImageRequest

    with pytest.raises(ImageResolutionError, match="could not resolve"):
        SdkImageUris(tmp_path).resolve([ImageRequest("djl-lmi", "0.33.0", "us-east-1", "ml.g5.xlarge")])


def test_endpoint_files_are_checked(tmp_path: Path) -> None:
    gold = json.loads((REPO_ROOT / "endpoints" / "gold.json").read_text())
    (tmp_path / "bronze.json").write_text(json.dumps(gold))
    with pytest.raises(ValueError, match="does not match the file name"):
        load_endpoint(tmp_path / "bronze.json")
    gold["scaling"]["concurrent_requests_per_copy"] = 64
    with pytest.raises(ValueError, match=r"exceeds engine\.max_batch_size"):
        EndpointConfig.model_validate(gold)


def test_state_machine_files_and_topology_entries_must_match(tmp_path: Path) -> None:
    sources = Sources(root=tmp_path)
    (tmp_path / "state_machines").mkdir()
    (tmp_path / "state_machines" / "orphan.asl.json").write_text("{}")
    with pytest.raises(StateMachineError, match=r"orphan\.asl\.json: add a StateMachine entry"):
        check_definitions(TOPOLOGY, sources)
    declared = dataclasses.replace(TOPOLOGY, state_machines=(StateMachine("ghost", "no file"),))
    (tmp_path / "state_machines" / "orphan.asl.json").unlink()
    with pytest.raises(StateMachineError, match="without a definition file"):
        check_definitions(declared, sources)


def test_placeholders_are_found() -> None:
    assert placeholders('{"A": "${SESSIONS_TABLE}", "B": "${NPC_SAY_FUNCTION_ARN}", "C": "$.x"}') == {
        "SESSIONS_TABLE",
        "NPC_SAY_FUNCTION_ARN",
    }
