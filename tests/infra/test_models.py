"""Model tiers: SageMaker endpoints from endpoints/*.json, scaled per environment, zero in dev."""

from __future__ import annotations

import re
from typing import Any

import pytest

from aicore.llm.endpoints_config import load_endpoints, load_options, non_commercial
from aicore.topology import ModelTier, physical_name
from cdk.sources import Sources
from tests.infra.conftest import ENVIRONMENTS, FIXTURE, Synth

ENDPOINTS = load_endpoints(Sources().endpoints)
OPTIONS = load_options(Sources().endpoints)
ECR_IMAGE = r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/[a-z-]+:\S*"


def _only(resources: dict[str, dict[str, Any]], **properties: Any) -> tuple[str, dict[str, Any]]:
    found = [
        (k, r)
        for k, r in resources.items()
        if all(r["Properties"].get(p) == v for p, v in properties.items())
    ]
    assert len(found) == 1, properties
    return found[0]


def test_tier_files_describe_the_two_llm_tiers() -> None:
    assert ENDPOINTS["gold"].model.hf_model_id == "Qwen/Qwen3-4B-Instruct-2507"
    assert ENDPOINTS["gold"].instance_type == "ml.g5.xlarge"
    assert ENDPOINTS["silver"].model.hf_model_id == "Qwen/Qwen2.5-7B-Instruct"
    assert ENDPOINTS["silver"].instance_type == "ml.g5.2xlarge"


def test_every_deployed_model_may_be_shipped_and_is_pinned() -> None:
    # The default tiers use models a studio may ship; the seed's research-only gold is an option.
    assert non_commercial(ENDPOINTS) == {}
    assert {c.licence.name for c in ENDPOINTS.values()} <= {"Apache-2.0", "MIT"}
    assert set(non_commercial(OPTIONS)) == {"gold-qwen2.5-3b-instruct-awq"}
    assert OPTIONS["gold-qwen2.5-3b-instruct-awq"].model.hf_model_id == "Qwen/Qwen2.5-3B-Instruct-AWQ"
    for config in (*ENDPOINTS.values(), *OPTIONS.values()):
        assert re.fullmatch(r"[0-9a-f]{40}", config.model.revision), config.model


def test_gpu_tiers_pin_an_inference_ami_that_runs_cuda_12_8() -> None:
    for name, config in ENDPOINTS.items():
        gpu = config.resources.accelerators > 0
        assert (config.inference_ami_version == "al2023-ami-sagemaker-inference-gpu-4-1") == gpu, name


@pytest.mark.parametrize("env", [*ENVIRONMENTS, FIXTURE])
def test_each_tier_is_an_endpoint_with_an_inference_component(synth: Synth, env: str) -> None:
    scaling = synth.configs[env].endpoints
    for tier in synth.topologies[env].model_tiers:
        endpoint = ENDPOINTS[tier.name]
        name = physical_name(env, tier.name)
        _, component = _only(
            synth.resources(env, "AWS::SageMaker::InferenceComponent"), InferenceComponentName=name
        )
        spec = component["Properties"]["Specification"]
        # Which model serves is the tier setup's answer (what the registry recorded, else the initial model).
        setup_id, attribute = spec["ModelName"]["Fn::GetAtt"]
        assert attribute == "ServingModel"
        setup = synth.resource(env, setup_id)
        assert setup["Type"] == "Custom::ModelTier"
        model_id = _only(
            synth.resources(env, "AWS::SageMaker::Model"), ModelName=setup["Properties"]["InitialModel"]
        )[0]
        model_resource = synth.resource(env, model_id)
        model = model_resource["Properties"]
        # The image the SageMaker SDK resolved for the region, with the tier's serving settings.
        assert re.match(ECR_IMAGE + re.escape(endpoint.image.version), model["PrimaryContainer"]["Image"])
        assert model["PrimaryContainer"]["Environment"] == endpoint.container_environment()
        # Weights: the pinned revision staged in the models bucket, nothing from a hub.
        assert model["EnableNetworkIsolation"] is True
        source = model["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]
        assert (source["S3DataType"], source["CompressionType"]) == ("S3Prefix", "None")
        uri = source["S3Uri"]["Fn::Join"][1]
        assert uri[0] == "s3://"
        assert synth.resource(env, uri[1]["Ref"])["Type"] == "AWS::S3::Bucket"
        assert uri[1]["Ref"].startswith("datamodelsbucket")
        assert uri[2] == f"/{endpoint.model.staged_prefix}"
        assert endpoint.model.revision in uri[2]
        assert model_resource["DeletionPolicy"] == "Retain"  # it may serve after the stack moves on
        # The setup stages those weights first (the model waits for it) and owns no other model.
        assert setup_id in model_resource["DependsOn"]
        assert setup["Properties"]["HfModelId"] == endpoint.model.hf_model_id
        assert setup["Properties"]["Revision"] == endpoint.model.revision
        assert setup["Properties"]["ParameterName"] == ModelTier(tier.name).serving_parameter(env)
        assert model_id in component["DependsOn"]
        accelerators = endpoint.resources.accelerators
        assert spec["ComputeResourceRequirements"] == {
            **({"NumberOfAcceleratorDevicesRequired": accelerators} if accelerators else {}),
            "MinMemoryRequiredInMb": endpoint.resources.min_memory_mb,
            "NumberOfCpuCoresRequired": endpoint.resources.cpu_cores,
        }
        assert component["Properties"]["RuntimeConfig"] == {"CopyCount": scaling[tier.name].initial_instances}
        _, sagemaker_endpoint = _only(synth.resources(env, "AWS::SageMaker::Endpoint"), EndpointName=name)
        config = synth.resource(env, sagemaker_endpoint["Properties"]["EndpointConfigName"]["Fn::GetAtt"][0])
        (variant,) = config["Properties"]["ProductionVariants"]
        assert variant["InstanceType"] == endpoint.instance_type
        assert variant.get("InferenceAmiVersion") == endpoint.inference_ami_version
        assert variant["InitialInstanceCount"] == scaling[tier.name].initial_instances
        assert variant["ManagedInstanceScaling"] == {
            "Status": "ENABLED",
            "MinInstanceCount": scaling[tier.name].min_instances,
            "MaxInstanceCount": scaling[tier.name].max_instances,
        }


def test_containers_serve_the_staged_copy_and_never_force_a_quantization() -> None:
    env = ENDPOINTS["gold"].container_environment()
    assert env["HF_MODEL_ID"] == "/opt/ml/model"  # where SageMaker puts the staged weights
    assert env["OPTION_ROLLING_BATCH"] == "vllm"
    assert env["OPTION_MAX_MODEL_LEN"] == "4096"
    assert not any("REVISION" in k for k in env)  # the revision is in the staged prefix
    # A pre-quantized AWQ checkpoint: vLLM reads its config and runs awq_marlin; forcing
    # OPTION_QUANTIZE=awq would pin the slower AWQ kernels (LMI's vLLM guide).
    awq = OPTIONS["gold-qwen3-4b-awq"]
    assert awq.engine.quantization == "awq"
    assert "OPTION_QUANTIZE" not in awq.container_environment()
    for config in ENDPOINTS.values():
        assert "OPTION_QUANTIZE" not in config.container_environment()


@pytest.mark.parametrize("env", [*ENVIRONMENTS, FIXTURE])
def test_autoscaling_tracks_invocations_and_concurrency_within_the_environment_bounds(
    synth: Synth, env: str
) -> None:
    scaling = synth.configs[env].endpoints
    policies = synth.resources(env, "AWS::ApplicationAutoScaling::ScalingPolicy")
    for tier in synth.topologies[env].model_tiers:
        bounds = scaling[tier.name]
        targets = ENDPOINTS[tier.name].scaling
        logical, target = _only(
            synth.resources(env, "AWS::ApplicationAutoScaling::ScalableTarget"),
            ResourceId=f"inference-component/{physical_name(env, tier.name)}",
        )
        assert target["Properties"]["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
        assert target["Properties"]["ServiceNamespace"] == "sagemaker"
        assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (
            bounds.min_instances,
            bounds.max_instances,
        )
        mine = [
            p["Properties"]
            for p in policies.values()
            if p["Properties"]["ScalingTargetId"] == {"Ref": logical}
        ]
        tracking = {
            p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
                "PredefinedMetricType"
            ]: p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
            for p in mine
            if p["PolicyType"] == "TargetTrackingScaling"
        }
        per_copy = "SageMakerInferenceComponent{}PerCopy"
        assert tracking == {
            per_copy.format("Invocations"): targets.invocations_per_copy_per_minute,
            per_copy.format("ConcurrentRequests") + "HighResolution": targets.concurrent_requests_per_copy,
        }
        # Scale from zero: only where the environment may reach zero.
        steps = [p for p in mine if p["PolicyType"] == "StepScaling"]
        assert len(steps) == (1 if bounds.min_instances == 0 else 0)


def test_dev_can_scale_to_zero_and_prod_cannot(synth: Synth) -> None:
    assert all(b.min_instances == 0 for b in synth.configs["dev"].endpoints.values())
    assert all(b.min_instances >= 1 for b in synth.configs["prod"].endpoints.values())
    alarms = [
        a["Properties"]
        for a in synth.resources("dev", "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "NoCapacityInvocationFailures"
    ]
    assert {a["Dimensions"][0]["Value"] for a in alarms} == {
        physical_name("dev", t.name) for t in synth.topologies["dev"].model_tiers
    }


@pytest.mark.parametrize("env", [*ENVIRONMENTS, FIXTURE])
def test_inference_component_logs_exist_with_retention(synth: Synth, env: str) -> None:
    groups = {
        r["Properties"].get("LogGroupName"): r["Properties"]
        for r in synth.resources(env, "AWS::Logs::LogGroup").values()
    }
    for tier in synth.topologies[env].model_tiers:
        for group in (
            f"/aws/sagemaker/InferenceComponents/{physical_name(env, tier.name)}",
            f"/aws/sagemaker/Endpoints/{physical_name(env, tier.name)}",
        ):
            assert groups[group]["RetentionInDays"] == synth.configs[env].log_retention_days, group


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_model_role_pulls_one_repository_and_writes_its_own_logs(synth: Synth, env: str) -> None:
    for logical, role in synth.resources(env, "AWS::IAM::Role").items():
        principal = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        if principal != {"Service": "sagemaker.amazonaws.com"}:
            continue
        statements = [
            s
            for p in synth.resources(env, "AWS::IAM::Policy").values()
            if {"Ref": logical} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        ]
        resources = {str(s["Resource"]) for s in statements}
        assert any(":repository/" in r for r in resources)
        assert {s["Resource"] for s in statements if s["Resource"] == "*"} == {"*"}
        (star,) = [s for s in statements if s["Resource"] == "*"]
        assert star["Action"] == "ecr:GetAuthorizationToken"
        by_action = {
            a: s
            for s in statements
            for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        }
        # Logs: the endpoint's and its inference component's groups, and nothing else.
        groups = {
            synth.resource(env, r["Fn::GetAtt"][0])["Properties"]["LogGroupName"]
            for r in by_action["logs:PutLogEvents"]["Resource"]
        }
        assert {g.split("/")[3] for g in groups} == {"Endpoints", "InferenceComponents"}
        assert "logs:CreateLogGroup" not in by_action  # they exist already, with retention
        # Weights: read only, under hf/ in the models bucket; listing limited to that prefix.
        assert by_action["s3:GetObject"]["Resource"]["Fn::Join"][1][1] == "/hf/*"
        assert by_action["s3:ListBucket"]["Condition"] == {"StringLike": {"s3:prefix": ["hf/*"]}}
        assert not {"s3:PutObject", "s3:DeleteObject"} & set(by_action)
