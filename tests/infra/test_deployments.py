"""Releasing functions safely, and keeping one flood from starving everyone else.

Every function publishes versions behind a `live` alias that everything invokes; the topology's
`gradual_deployment` functions shift traffic through CodeDeploy outside dev; reserved
concurrency guarantees the doors ($connect, the authorizer) and caps npc.say.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aicore.topology import physical_name
from cdk.config import UNRESERVED_MINIMUM
from tests.infra.conftest import ENVIRONMENTS, FIXTURE, Synth

CODEDEPLOY_CONFIGS = {
    "canary_10_percent_5_minutes": "CodeDeployDefault.LambdaCanary10Percent5Minutes",
    "canary_10_percent_10_minutes": "CodeDeployDefault.LambdaCanary10Percent10Minutes",
}


def _aliases(synth: Synth, env: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each of our functions' alias: function name -> (logical id, resource)."""
    functions = synth.functions(env)
    found = {}
    for logical, alias in synth.resources(env, "AWS::Lambda::Alias").items():
        function = alias["Properties"]["FunctionName"]["Ref"]
        if function in functions:
            found[functions[function]["Properties"]["FunctionName"]] = (logical, alias)
    return found


@pytest.mark.parametrize("env", [*ENVIRONMENTS, FIXTURE])
def test_every_function_has_a_live_alias_on_a_published_version(synth: Synth, env: str) -> None:
    aliases = _aliases(synth, env)
    topology = synth.topologies[env]
    assert set(aliases) == {physical_name(env, f.name) for f in topology.all_functions}
    for _, alias in aliases.values():
        assert alias["Properties"]["Name"] == "live"
        version = synth.resource(env, alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0])
        assert version["Type"] == "AWS::Lambda::Version"


@pytest.mark.parametrize("env", [*ENVIRONMENTS, FIXTURE])
def test_nothing_invokes_a_function_except_through_its_live_alias(synth: Synth, env: str) -> None:
    # Every grant to invoke one of our functions (API Gateway, EventBridge, Scheduler, Step Functions,
    # the custom resource framework) names its live alias: a deployment's traffic shift covers them all.
    functions = synth.functions(env)
    aliases = {logical for logical, _ in _aliases(synth, env).values()}
    permissions = [
        p["Properties"]["FunctionName"] for p in synth.resources(env, "AWS::Lambda::Permission").values()
    ]
    assert sum(isinstance(t, dict) and t.get("Ref") in aliases for t in permissions) > len(functions) // 2
    for target in permissions:
        assert not any(f in json.dumps(target) for f in functions), f"{target} bypasses the alias"
    for policy in synth.resources(env, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Action"] != "lambda:InvokeFunction":
                continue
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            for resource in resources:
                text = json.dumps(resource)
                assert not any(f'"{f}"' in text for f in functions), f"{text} bypasses the alias"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_gradual_functions_shift_traffic_through_codedeploy_outside_dev(synth: Synth, env: str) -> None:
    config = synth.configs[env]
    groups = [g["Properties"] for g in synth.resources(env, "AWS::CodeDeploy::DeploymentGroup").values()]
    gradual = {
        physical_name(env, f.name) for f in synth.topologies[env].all_functions if f.gradual_deployment
    }
    assert {physical_name(env, n) for n in ("npc-say", "sessions-api", "models-api", "authorizer")} <= gradual
    if config.lambda_.deployment == "all_at_once":
        assert groups == []
        return
    assert len(groups) == len(gradual)
    aliases = _aliases(synth, env)
    for group in groups:
        assert group["DeploymentConfigName"] == CODEDEPLOY_CONFIGS[config.lambda_.deployment]
        assert set(group["AutoRollbackConfiguration"]["Events"]) >= {
            "DEPLOYMENT_FAILURE",
            "DEPLOYMENT_STOP_ON_ALARM",
        }
        (alarm,) = group["AlarmConfiguration"]["Alarms"]
        watched = synth.resource(env, alarm["Name"]["Ref"])["Properties"]
        assert watched["MetricName"] == "Errors"
        assert {d["Name"] for d in watched["Dimensions"]} == {"FunctionName", "Resource"}  # the alias
    for name in gradual:
        _, alias = aliases[name]
        update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
        assert update["DeploymentGroupName"]["Ref"] in synth.resources(
            env, "AWS::CodeDeploy::DeploymentGroup"
        )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_reserved_concurrency_keeps_a_flood_of_npc_say_from_starving_the_doors(
    synth: Synth, env: str
) -> None:
    config = synth.configs[env]
    reserved = {
        r["Properties"]["FunctionName"]: r["Properties"].get("ReservedConcurrentExecutions")
        for r in synth.functions(env).values()
    }
    for fn in synth.topologies[env].all_functions:
        assert reserved[physical_name(env, fn.name)] == config.reserved_concurrency(
            fn.reserved_concurrency
        ), fn.name
    outputs = synth.templates[env]["Outputs"]
    needed = int(outputs["ReservedConcurrency"]["Value"])
    assert needed == sum(r for r in reserved.values() if r) + UNRESERVED_MINIMUM
    if env == "prod":
        # a ceiling for npc.say, floors for $connect and the authorizer, room left for the rest
        assert reserved[physical_name(env, "npc-say")] == 300
        assert reserved[physical_name(env, "ws-connect")] == reserved[physical_name(env, "authorizer")] == 50
        assert needed <= 1000  # a default account's limit
    if env == "dev":
        assert not any(reserved.values())  # a new account's limit is 10: no reservation fits


@pytest.mark.parametrize("env", [*ENVIRONMENTS, FIXTURE])
def test_the_tier_setup_provider_waits_on_our_handler_with_its_logs_kept(synth: Synth, env: str) -> None:
    aliases = _aliases(synth, env)
    (setup_alias, _) = aliases[physical_name(env, "model-tier-setup")]
    framework = [
        r["Properties"]
        for r in synth.resources(env, "AWS::Lambda::Function").values()
        if r["Properties"].get("FunctionName") is None and "USER_ON_EVENT_FUNCTION_ARN" in json.dumps(r)
    ]
    assert framework
    for function in framework:
        variables = function["Environment"]["Variables"]
        assert variables["USER_ON_EVENT_FUNCTION_ARN"] == {"Ref": setup_alias}
    waiters = [
        r["Properties"]
        for r in synth.resources(env, "AWS::StepFunctions::StateMachine").values()
        if "StateMachineName" not in r["Properties"]
    ]
    (waiter,) = waiters
    assert waiter["LoggingConfiguration"]["Level"] == "ALL"
    setups = synth.resources(env, "Custom::ModelTier")
    assert len(setups) == len(synth.topologies[env].model_tiers)
