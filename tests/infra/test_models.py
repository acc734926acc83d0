"""Model tiers: SageMaker endpoints from endpoints/*.json, scaled per environment, zero in dev."""

from __future__ import annotations

import re
from typing import Any

import pytest

from aicore.llm.endpoints_config import load_endpoints
from aicore.topology import physical_name
from cdk.sources import Sources
from tests.infra.conftest import ENVIRONMENTS, FIXTURE, Synth

ENDPOINTS = load_endpoints(Sources().endpoints)
ECR_IMAGE = r"^\d{12}\.dkr\.ecr\.us-east-1\.amazonaws\.com/[a-z-]+:\S*"


def _only(resources: dict[str, dict[str, Any]], **properties: Any) -> tuple[str, dict[str, Any]]:
    found = [
        (k, r)
        for k, r in resources.items()
        if all(r["Properties"].get(p) == v for p, v in properties.items())
    ]
    assert len(found) == 1, properties
    return found[0]


def test_tier_files_describe_the_two_llm_tiers() -> None:
    assert ENDPOINTS["gold"].model.hf_model_id == "Qwen/Qwen2.5-3B-Instruct-AWQ"
    assert ENDPOINTS["gold"].instance_type == "ml.g5.xlarge"
    assert ENDPOINTS["gold"].engine.quantization == "awq"
    assert ENDPOINTS["silver"].model.hf_model_id == "Qwen/Qwen2.5-7B-Instruct"
    assert ENDPOINTS["silver"].instance_type == "ml.g5.2xlarge"


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
        model = synth.resource(env, spec["ModelName"]["Fn::GetAtt"][0])["Properties"]
        # The image the SageMaker SDK resolved for the region, with the tier's serving settings.
        assert re.match(ECR_IMAGE + re.escape(endpoint.image.version), model["PrimaryContainer"]["Image"])
        assert model["PrimaryContainer"]["Environment"] == endpoint.container_environment()
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
        assert variant["InitialInstanceCount"] == scaling[tier.name].initial_instances
        assert variant["ManagedInstanceScaling"] == {
            "Status": "ENABLED",
            "MinInstanceCount": scaling[tier.name].min_instances,
            "MaxInstanceCount": scaling[tier.name].max_instances,
        }


def test_gold_serves_awq_with_vllm() -> None:
    env = ENDPOINTS["gold"].container_environment()
    assert env["HF_MODEL_ID"] == "Qwen/Qwen2.5-3B-Instruct-AWQ"
    assert env["OPTION_ROLLING_BATCH"] == "vllm"
    assert env["OPTION_QUANTIZE"] == "awq"
    assert env["OPTION_MAX_MODEL_LEN"] == "4096"
    assert "OPTION_QUANTIZE" not in ENDPOINTS["silver"].container_environment()


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
