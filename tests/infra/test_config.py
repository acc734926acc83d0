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
from cdk.config import ConfigError, load_environment, selected_environments
from cdk.images import ImageResolutionError, SdkImageUris, repository_arn
from cdk.sources import REPO_ROOT, MissingBuildError, Sources
from cdk.state_machines import StateMachineError, check_definitions, placeholders

CONTEXT = cdk_json_context(REPO_ROOT)


def test_every_environment_in_cdk_json_is_valid() -> None:
    for env in ("dev", "staging", "prod"):
        config = load_environment(env, CONTEXT, {})
        assert config.name == env
        assert config.region == "us-east-1"  # the fallback: no context, no variables
        assert config.account is None
        assert set(config.endpoints) >= {t.name for t in TOPOLOGY.model_tiers}


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
    pinned["aicore:environments"]["prod"]["region"] = "eu-central-1"
    assert load_environment("prod", pinned, environ).region == "eu-central-1"


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


def test_memory_follows_the_factor_within_lambda_limits() -> None:
    config = load_environment("dev", CONTEXT, {})
    assert config.memory_mb(1024) == round(1024 * config.lambda_.memory_factor)
    half = config.model_copy(update={"lambda_": config.lambda_.model_copy(update={"memory_factor": 0.05})})
    assert half.memory_mb(512) == 128


def test_missing_builds_fail_synth_with_the_command_to_run(tmp_path: Path) -> None:
    with pytest.raises(MissingBuildError, match="make cdk-assets"):
        build_app(context={**CONTEXT, "env": "dev"}, environ={}, sources=Sources(build=tmp_path))


def test_dependencies_layer_takes_the_runtime_dependencies_but_boto3() -> None:
    requirements = layer_requirements(REPO_ROOT / "pyproject.toml")
    names = {r.split("=")[0].split("[")[0] for r in requirements}
    assert {"pydantic", "aws-lambda-powertools", "pyjwt", "numpy", "tokenizers"} <= names
    assert "boto3" not in names
    assert all("==" in r for r in requirements)


def test_prune_removes_what_the_runtime_provides(tmp_path: Path) -> None:
    for name in ("botocore", "botocore-1.0.dist-info", "pydantic", "six.py", "six-1.17.dist-info"):
        (tmp_path / name).mkdir() if not name.endswith(".py") else (tmp_path / name).write_text("")
    _prune(tmp_path, ("botocore", "six"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pydantic"]


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
