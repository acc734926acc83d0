"""The knowledge base in the synthesized stacks: its bucket, its flow, who may touch them, the embed tier."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aicore.llm.endpoints_config import load_endpoint
from aicore.settings import Settings
from aicore.topology import KNOWLEDGE_INGEST_FLOW, physical_name
from cdk.data import SCRATCH_EXPIRE_DAYS
from cdk.sources import Sources
from tests.infra.conftest import ENVIRONMENTS, Synth
from tests.infra.policies import function_role, grants


def _bucket(synth: Synth, env: str, name: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, r) for k, r in synth.resources(env, "AWS::S3::Bucket").items() if k.startswith(f"data{name}")
    ]
    return found


def _function(synth: Synth, env: str, name: str) -> dict[str, Any]:
    (found,) = [
        r
        for r in synth.resources(env, "AWS::Lambda::Function").values()
        if r["Properties"].get("FunctionName") == physical_name(env, name)
    ]
    return found


def _statements(synth: Synth, env: str, role_ref: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in synth.resources(env, "AWS::IAM::Policy").values()
        if role_ref in policy["Properties"].get("Roles", [])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_knowledge_bucket_is_private_encrypted_tls_only_and_stays_in_standard(
    synth: Synth, env: str
) -> None:
    logical, bucket = _bucket(synth, env, "knowledge")
    props = bucket["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {rule["Id"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}
    # Indexes are read at every cold start: no colder storage class, ever
    assert all("Transitions" not in rule for rule in rules.values())
    noncurrent = synth.configs[env].archive.noncurrent_expire_after_days
    assert rules["housekeeping"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": noncurrent}
    assert rules["scratch-work"]["Prefix"] == "work/"
    assert rules["scratch-work"]["ExpirationInDays"] == SCRATCH_EXPIRE_DAYS
    (policy,) = [
        p
        for p in synth.resources(env, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": logical}
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_ingestion_flow_invokes_only_its_steps_and_touches_no_data_itself(synth: Synth, env: str) -> None:
    (machine,) = [
        r
        for r in synth.resources(env, "AWS::StepFunctions::StateMachine").values()
        if r["Properties"].get("StateMachineName") == physical_name(env, KNOWLEDGE_INGEST_FLOW)
    ]
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    # Its one step: the knowledge-steps function, through its live alias (as every flow invokes)
    alias = synth.resource(env, substitutions["KNOWLEDGE_STEPS_FUNCTION_ARN"]["Ref"])
    assert alias["Type"] == "AWS::Lambda::Alias"
    steps = synth.resource(env, alias["Properties"]["FunctionName"]["Ref"])
    assert steps["Properties"]["FunctionName"] == physical_name(env, "knowledge-steps")
    statements = _statements(synth, env, {"Ref": machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]})
    assert {a for s in statements for a in _actions(s)} <= {
        "lambda:InvokeFunction",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_lore_functions_may_invoke_the_embed_tier_and_know_its_model(synth: Synth, env: str) -> None:
    model = load_endpoint(Sources().endpoints / "embed.json").model.hf_model_id
    assert model == Settings.model_fields["embed_model"].default  # local vectors are the cloud's
    for name in ("lore-api", "knowledge-steps"):
        function = _function(synth, env, name)
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["EMBED_ENDPOINT"] == physical_name(env, "embed")
        assert variables["EMBED_MODEL"] == model
        statements = _statements(synth, env, {"Ref": function["Properties"]["Role"]["Fn::GetAtt"][0]})
        invoke = [s for s in statements if "sagemaker:InvokeEndpoint" in _actions(s)]
        resources = json.dumps([s["Resource"] for s in invoke])
        assert f"endpoint/{physical_name(env, 'embed')}" in resources
        assert f"endpoint/{physical_name(env, 'gold')}" not in resources


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_embed_tier_is_a_cpu_endpoint(synth: Synth, env: str) -> None:
    configs = [
        r["Properties"]
        for r in synth.resources(env, "AWS::SageMaker::EndpointConfig").values()
        if any(v.get("InstanceType", "").startswith("ml.c") for v in r["Properties"]["ProductionVariants"])
    ]
    assert len(configs) == 1


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_npc_turn_reads_minds_and_lore_and_writes_neither(synth: Synth, env: str) -> None:
    template = synth.templates[env]
    granted = grants(template, function_role(template, physical_name(env, "npc-say")))
    on_mind = {action for action, target in granted if target == "table:mind"}
    assert {"dynamodb:Query", "dynamodb:GetItem"} <= on_mind
    assert not {a for a in on_mind if a.endswith(("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"))}
    on_lore = {action for action, target in granted if target.endswith(":knowledge")}
    assert on_lore == {"s3:GetObject", "s3:ListBucket"}
    # the embed tier only for a lore query in quality mode; never the tiers' management
    invoked = {target for action, target in granted if action == "sagemaker:InvokeEndpoint"}
    assert invoked == {
        f"{kind}:{tier}" for kind in ("endpoint", "component") for tier in ("gold", "silver", "embed")
    }
