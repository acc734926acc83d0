"""Identity in the stack: the signing keys' secret and its set-up at deploy, the weekly rotation,
throttles on every unauthenticated route, and who may read which key."""

from __future__ import annotations

import pytest

from aicore.topology import KEY_ROTATION, TOPOLOGY, physical_name
from tests.infra.conftest import ENVIRONMENTS, Synth
from tests.infra.policies import function_role, grants


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_unauthenticated_route_has_its_own_throttle(synth: Synth, env: str) -> None:
    (stage,) = [
        s
        for s in synth.resources(env, "AWS::ApiGatewayV2::Stage").values()
        if s["Properties"].get("StageName") == "$default"
    ]
    throttle = synth.configs[env].identity.unauthenticated_throttle
    settings = stage["Properties"]["RouteSettings"]
    unauthenticated = {route.route_key for route, _ in TOPOLOGY.http_routes if not route.authorized}
    assert {
        "POST /auth/guest",
        "POST /auth/exchange",
        "GET /.well-known/jwks.json",
        "GET /status",
    } <= unauthenticated
    assert set(settings) == unauthenticated
    for key in unauthenticated:
        assert settings[key] == {
            "ThrottlingBurstLimit": throttle.burst_limit,
            "ThrottlingRateLimit": throttle.rate_limit,
        }


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_keys_are_set_up_at_deploy_and_rotated_weekly(synth: Synth, env: str) -> None:
    (secret,) = [
        s
        for s in synth.resources(env, "AWS::SecretsManager::Secret").values()
        if s["Properties"]["Name"] == physical_name(env, "signing-keys")
    ]
    assert secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"] == '{"keys": []}'
    (setup,) = synth.resources(env, "Custom::SigningKeys").values()
    assert "identitykeys" in str(setup["Properties"]["ServiceToken"]).replace("-", "")
    schedules = [
        s["Properties"]
        for s in synth.resources(env, "AWS::Scheduler::Schedule").values()
        if s["Properties"]["ScheduleExpression"] == KEY_ROTATION.expression
    ]
    assert len(schedules) == 1
    assert KEY_ROTATION.expression == "rate(10080 minutes)"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_the_rotation_writes_keys_and_the_authorizer_reads_only_public_ones(
    synth: Synth, env: str
) -> None:
    template = synth.templates[env]
    parameter = f"parameter:/aicore/{env}/identity/public-keys"
    by_function = {
        fn.name: grants(template, function_role(template, physical_name(env, fn.name)))
        for fn in TOPOLOGY.all_functions
    }
    secret_readers = {n for n, g in by_function.items() if ("secretsmanager:GetSecretValue", "secret") in g}
    secret_writers = {n for n, g in by_function.items() if ("secretsmanager:PutSecretValue", "secret") in g}
    publishers = {n for n, g in by_function.items() if ("ssm:PutParameter", parameter) in g}
    assert secret_readers == {"identity-api", "identity-keys"}
    assert secret_writers == publishers == {"identity-keys"}
    assert ("ssm:GetParameter", parameter) in by_function["authorizer"]
