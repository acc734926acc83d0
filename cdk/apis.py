"""The WebSocket API (game clients) and the HTTP API (studio tools), routed from the topology.

Both authorize with the topology's `authorizer` Lambda (tokens are ES256 JWTs verified against our
published keys; API Gateway's native JWT authorizer would need a stable issuer URL and cannot
carry the token's expiry to WebSocket handlers): WebSocket `$connect` reads the token from the
`token` query string parameter, the HTTP API from the `Authorization` header (payload 2.0, simple
responses). Routes the topology declares unauthenticated (logins, the JWKS, status) get their own
route-level throttle, below the stage's.

The APIs and their stages sit in the top-level template (their ids are in the URLs clients hold);
the routes, integrations, authorizers and invoke permissions, which grow with the topology, in the
`api-routes` nested stack, which each stage deploys after.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import Duration, NestedStack, RemovalPolicy
from aws_cdk import aws_apigateway as apigw_v1
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from aicore.topology import Topology, physical_name
from cdk.config import EnvironmentConfig, Throttle
from cdk.nag import acknowledge
from cdk.retention import retention

WEBSOCKET_TOKEN_SOURCE = "route.request.querystring.token"
HTTP_TOKEN_SOURCE = "$request.header.Authorization"
CONNECT = "$connect"

_COMMON_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "integrationLatencyMs": "$context.integrationLatency",
}
WEBSOCKET_LOG_FORMAT = json.dumps(
    {**_COMMON_LOG_FIELDS, "connectionId": "$context.connectionId", "eventType": "$context.eventType"}
)
HTTP_LOG_FORMAT = json.dumps(
    {**_COMMON_LOG_FIELDS, "protocol": "$context.protocol", "responseLatencyMs": "$context.responseLatency"}
)


def _access_logs(stage: apigw.IStage, log_group: logs.ILogGroup, log_format: str) -> None:
    cfn = stage.node.default_child
    assert isinstance(cfn, apigw.CfnStage)
    cfn.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
        destination_arn=log_group.log_group_arn, format=log_format
    )


def _throttle(throttle: Throttle) -> apigw.ThrottleSettings:
    return apigw.ThrottleSettings(rate_limit=throttle.rate_limit, burst_limit=throttle.burst_limit)


class RealtimeApi(Construct):
    """The WebSocket API and its stage (their ids make the URL game clients hold), access-logged."""

    def __init__(self, scope: Construct, id: str, *, topology: Topology, config: EnvironmentConfig) -> None:
        super().__init__(scope, id)
        self.api = apigw.WebSocketApi(
            self,
            "api",
            api_name=physical_name(config.name, "realtime"),
            description="aicore game clients: NPC replies streamed, world pushes",
            route_selection_expression=topology.websocket_route_selection,
        )
        self.stage = apigw.WebSocketStage(
            self,
            "stage",
            web_socket_api=self.api,
            stage_name=config.name,
            auto_deploy=True,
            throttle=_throttle(config.websocket_throttle),
        )
        self.access_logs = logs.LogGroup(
            self,
            "access-logs",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        _access_logs(self.stage, self.access_logs, WEBSOCKET_LOG_FORMAT)
        if config.api_gateway_cloudwatch_role:
            self.stage.node.add_dependency(_account_logging_role(self))


class RealtimeRoutes(Construct):
    """One WebSocket route per topology route key, `$connect` behind the Lambda authorizer.

    Built on `api` imported by id, so the routes, integrations, authorizer and invoke permissions
    are all made in this construct's template, whichever template holds the API itself.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        api: apigw.IWebSocketApi,
        topology: Topology,
        config: EnvironmentConfig,
        functions: Mapping[str, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, id)
        imported = apigw.WebSocketApi.from_web_socket_api_attributes(self, "api", web_socket_id=api.api_id)
        authorizer = authorizers.WebSocketLambdaAuthorizer(
            "authorizer",
            functions[topology.authorizer.name],
            authorizer_name=physical_name(config.name, "ws-authorizer"),
            identity_source=[WEBSOCKET_TOKEN_SOURCE],
        )
        self.routes: dict[str, apigw.WebSocketRoute] = {}
        for fn in topology.functions:
            for route_key in fn.websocket_routes:
                route = apigw.WebSocketRoute(
                    self,
                    f"{route_key}-route",
                    web_socket_api=imported,
                    route_key=route_key,
                    integration=integrations.WebSocketLambdaIntegration(
                        f"{fn.name}:{route_key}", functions[fn.name]
                    ),
                    authorizer=authorizer if route_key == CONNECT else None,
                )
                self.routes[route_key] = route
                if route_key != CONNECT:
                    acknowledge(
                        route,
                        "AwsSolutions-APIG4",
                        "API Gateway authorizes a WebSocket once, on $connect; "
                        "every later frame rides that authorized connection.",
                    )


def _account_logging_role(scope: Construct) -> apigw_v1.CfnAccount:
    """API Gateway's account-wide CloudWatch role, which WebSocket access logging requires.

    One per account and region: several stacks may set it (the last one wins, all alike); the
    role is retained so that deleting one environment never breaks another's logging.
    """
    role = iam.Role(
        scope,
        "apigateway-cloudwatch-role",
        assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name(
                "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
            )
        ],
    )
    role.apply_removal_policy(RemovalPolicy.RETAIN)
    acknowledge(
        role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        "API Gateway's own service policy for writing API logs; AWS maintains it for exactly this role.",
    )
    return apigw_v1.CfnAccount(scope, "apigateway-account", cloud_watch_role_arn=role.role_arn)


class HttpApi(Construct):
    """The HTTP API and its `$default` stage (throttled, per route where a route is unauthenticated)."""

    def __init__(self, scope: Construct, id: str, *, topology: Topology, config: EnvironmentConfig) -> None:
        super().__init__(scope, id)
        self.api = apigw.HttpApi(
            self,
            "api",
            api_name=physical_name(config.name, "http"),
            description="aicore studio tools and game servers (JSON)",
            create_default_stage=False,
        )
        self.stage = apigw.HttpStage(
            self,
            "stage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=_throttle(config.http_throttle),
        )
        self.access_logs = logs.LogGroup(
            self,
            "access-logs",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        _access_logs(self.stage, self.access_logs, HTTP_LOG_FORMAT)
        unauthenticated = [route.route_key for route, _ in topology.http_routes if not route.authorized]
        _throttle_routes(self.stage, unauthenticated, config.identity.unauthenticated_throttle)


class HttpRoutes(Construct):
    """One HTTP route per topology route; `authorized` routes behind the Lambda authorizer (built on
    `api` imported by id, like `RealtimeRoutes`)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        api: apigw.IHttpApi,
        topology: Topology,
        config: EnvironmentConfig,
        functions: Mapping[str, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, id)
        imported = apigw.HttpApi.from_http_api_attributes(self, "api", http_api_id=api.api_id)
        authorizer = authorizers.HttpLambdaAuthorizer(
            "authorizer",
            functions[topology.authorizer.name],
            authorizer_name=physical_name(config.name, "http-authorizer"),
            identity_source=[HTTP_TOKEN_SOURCE],
            response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
            results_cache_ttl=Duration.minutes(5),
        )
        integration_of: dict[str, integrations.HttpLambdaIntegration] = {}
        self.routes: dict[str, apigw.HttpRoute] = {}
        for route, fn in topology.http_routes:
            integration = integration_of.setdefault(
                fn.name, integrations.HttpLambdaIntegration(f"{fn.name}-integration", functions[fn.name])
            )
            http_route = apigw.HttpRoute(
                self,
                f"{route.route_key}-route",
                http_api=imported,
                route_key=apigw.HttpRouteKey.with_(route.path, apigw.HttpMethod(route.method)),
                integration=integration,
                authorizer=authorizer if route.authorized else apigw.HttpNoneAuthorizer(),
            )
            self.routes[route.route_key] = http_route
            if not route.authorized:
                acknowledge(
                    http_route,
                    "AwsSolutions-APIG4",
                    f"{route.route_key} is declared authorized=False in the topology: anyone may call it "
                    "(a login, the public keys, status), it is throttled on its own, and its handler "
                    "checks whatever credential it takes itself.",
                )


def deploy_after(stage: apigw.IStage, routes: NestedStack) -> None:
    """A stage deploys its API's routes (and names some in its route settings): the nested stack
    that holds them is created and updated first."""
    cfn = stage.node.default_child
    resource = routes.nested_stack_resource
    assert isinstance(cfn, apigw.CfnStage)
    assert resource is not None
    cfn.add_resource_dependency(resource)


def _throttle_routes(stage: apigw.HttpStage, route_keys: list[str], throttle: Throttle) -> None:
    """Route-level throttling (HTTP APIs take it per route key on the stage)."""
    if not route_keys:
        return
    cfn = stage.node.default_child
    assert isinstance(cfn, apigw.CfnStage)
    # A map of JSON: written with CloudFormation's own names (the L1 property class would be
    # rendered with camelCase keys here, which CloudFormation ignores).
    cfn.route_settings = {
        key: {"ThrottlingRateLimit": throttle.rate_limit, "ThrottlingBurstLimit": throttle.burst_limit}
        for key in route_keys
    }
