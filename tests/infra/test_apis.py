"""The WebSocket and HTTP APIs: routes from the topology, the Lambda authorizer, throttling, logs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from aicore.topology import physical_name
from tests.infra.conftest import ENVIRONMENTS, Synth


def _api(synth: Synth, env: str, protocol: str) -> str:
    (api,) = [
        k
        for k, r in synth.resources(env, "AWS::ApiGatewayV2::Api").items()
        if r["Properties"]["ProtocolType"] == protocol
    ]
    return api


def _of_api(synth: Synth, env: str, kind: str, api: str) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in synth.resources(env, kind).values()
        if r["Properties"]["ApiId"] == {"Ref": api}
    ]


def invoked(synth: Synth, env: str, expression: Any) -> str:
    """The function an integration or authorizer URI invokes: through its `live` alias, always."""
    text = json.dumps(expression)
    aliases = [r["Properties"] for k, r in synth.resources(env, "AWS::Lambda::Alias").items() if k in text]
    assert len(aliases) == 1, f"expected one alias in {text}"
    assert aliases[0]["Name"] == "live"
    function = synth.resource(env, aliases[0]["FunctionName"]["Ref"])["Properties"]
    assert not any(k in text for k in synth.functions(env)), f"{text} names a function, not its alias"
    name: str = function["FunctionName"]
    return name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_websocket_routes_come_from_the_topology(synth: Synth, env: str) -> None:
    topology = synth.topologies[env]
    api = _api(synth, env, "WEBSOCKET")
    assert (
        synth.resource(env, api)["Properties"]["RouteSelectionExpression"]
        == topology.websocket_route_selection
    )
    routes = {r["RouteKey"]: r for r in _of_api(synth, env, "AWS::ApiGatewayV2::Route", api)}
    assert set(routes) == set(topology.websocket_route_keys)
    for key, route in routes.items():
        assert route["AuthorizationType"] == ("CUSTOM" if key == "$connect" else "NONE"), key
        # Each route integrates the function the topology routes it to.
        integration = synth.resource(env, route["Target"]["Fn::Join"][1][1]["Ref"])["Properties"]
        function = topology.websocket_route(key)
        assert function is not None
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert invoked(synth, env, integration["IntegrationUri"]) == physical_name(env, function.name)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_websocket_connect_checks_the_token_from_the_query_string(synth: Synth, env: str) -> None:
    api = _api(synth, env, "WEBSOCKET")
    (authorizer,) = _of_api(synth, env, "AWS::ApiGatewayV2::Authorizer", api)
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["IdentitySource"] == ["route.request.querystring.token"]
    assert invoked(synth, env, authorizer["AuthorizerUri"]) == physical_name(
        env, synth.topologies[env].authorizer.name
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_http_routes_and_their_authorizer(synth: Synth, env: str) -> None:
    topology = synth.topologies[env]
    api = _api(synth, env, "HTTP")
    (authorizer,) = _of_api(synth, env, "AWS::ApiGatewayV2::Authorizer", api)
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["AuthorizerPayloadFormatVersion"] == "2.0"
    assert authorizer["EnableSimpleResponses"] is True
    assert authorizer["IdentitySource"] == ["$request.header.Authorization"]
    assert invoked(synth, env, authorizer["AuthorizerUri"]) == physical_name(env, topology.authorizer.name)

    routes = {r["RouteKey"]: r for r in _of_api(synth, env, "AWS::ApiGatewayV2::Route", api)}
    assert set(routes) == {route.route_key for route, _ in topology.http_routes}
    for route, _ in topology.http_routes:
        assert routes[route.route_key]["AuthorizationType"] == ("CUSTOM" if route.authorized else "NONE")
    for integration in _of_api(synth, env, "AWS::ApiGatewayV2::Integration", api):
        assert integration["PayloadFormatVersion"] == "2.0"
        route_function = invoked(synth, env, integration["IntegrationUri"])
        assert route_function in {physical_name(env, fn.name) for _, fn in topology.http_routes}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_stages_are_throttled_and_access_logged_per_environment(synth: Synth, env: str) -> None:
    config = synth.configs[env]
    template = Template.from_json(synth.templates[env])
    for protocol, stage_name, throttle in (
        ("WEBSOCKET", env, config.websocket_throttle),
        ("HTTP", "$default", config.http_throttle),
    ):
        template.has_resource_properties(
            "AWS::ApiGatewayV2::Stage",
            {
                "ApiId": {"Ref": _api(synth, env, protocol)},
                "StageName": stage_name,
                "AutoDeploy": True,
                "DefaultRouteSettings": Match.object_like(
                    {"ThrottlingRateLimit": throttle.rate_limit, "ThrottlingBurstLimit": throttle.burst_limit}
                ),
                "AccessLogSettings": {
                    "DestinationArn": Match.any_value(),
                    "Format": Match.string_like_regexp("requestId"),
                },
            },
        )
    # WebSocket access logging needs API Gateway's account-level CloudWatch role.
    template.resource_count_is("AWS::ApiGateway::Account", 1 if config.api_gateway_cloudwatch_role else 0)
