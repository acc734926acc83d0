"""The aicore stack: composes one construct per capability, all driven by the topology."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Environment, NestedStack, RemovalPolicy, Stack, Stage, Tags
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct

from aicore.llm.endpoints_config import EndpointConfig
from aicore.topology import (
    MODEL_TIER_SETUP,
    MODEL_WEIGHTS,
    SERVICE,
    Topology,
    physical_name,
    resource_environment,
)
from cdk.access import Resources, check_declarations, grant_function, grant_state_machine
from cdk.apis import HttpApi, RealtimeApi
from cdk.config import EnvironmentConfig
from cdk.data import DataStore
from cdk.events import EventBus, Triggers
from cdk.functions import Functions, reserved_total
from cdk.model_tier import ModelTier
from cdk.monitoring import Monitoring
from cdk.nag import acknowledge, logical_id, wildcard_resource
from cdk.retention import retention
from cdk.sources import Sources
from cdk.state_machines import StateMachines


class AicoreStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        topology: Topology,
        sources: Sources,
        endpoints: Mapping[str, EndpointConfig],
        image_uris: Mapping[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        check_declarations(topology)
        env = config.name

        data = DataStore(self, "data", topology=topology, config=config)
        bus = EventBus(self, "events", topology=topology, config=config)
        jwt_secret = secretsmanager.Secret(
            self,
            "jwt-key",
            description=f"aicore {env}: HS256 key that signs player tokens (iss aicore, aud aicore-game)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
        )
        acknowledge(
            jwt_secret,
            "AwsSolutions-SMG4",
            "Rotating the token-signing key must be coordinated with the token issuer and live sessions; "
            "it is rotated by a runbook, not on a timer.",
        )
        # Every function sees the name of every resource, under the topology's variable names
        # (endpoints and components by their physical names, which the tiers below take).
        environment = resource_environment(env, topology)
        environment |= {t.env_var: data.tables[t.name].table_name for t in topology.tables}
        environment |= {b.env_var: data.buckets[b.name].bucket_name for b in topology.buckets}
        environment[topology.bus.env_var] = bus.bus.event_bus_name
        for tier in topology.model_tiers:
            if endpoints[tier.name].engine.engine == "tei":  # embedders record the model by name
                environment[f"{tier.name.upper()}_MODEL"] = endpoints[tier.name].model.hf_model_id
        functions = Functions(
            self, "functions", topology=topology, config=config, sources=sources, environment=environment
        )
        tiers: dict[str, ModelTier] = {}
        if topology.model_tiers:
            setup = self._tier_setup_provider(config, functions.aliases[MODEL_TIER_SETUP])
            tiers = {
                tier.name: ModelTier(
                    self,
                    f"{tier.name}-tier",
                    tier=tier.name,
                    endpoint=endpoints[tier.name],
                    scaling=config.endpoints[tier.name],
                    image_uri=image_uris[tier.name],
                    config=config,
                    models_bucket=data.buckets[weights_bucket(topology)],
                    setup_service_token=setup.service_token,
                )
                for tier in topology.model_tiers
            }
        realtime = RealtimeApi(
            self, "realtime", topology=topology, config=config, functions=functions.aliases
        )
        http = HttpApi(self, "http", topology=topology, config=config, functions=functions.aliases)

        machines = StateMachines(
            self,
            "state-machines",
            topology=topology,
            config=config,
            sources=sources,
            names=environment,
            functions=functions.aliases,
        )
        resources = Resources(
            tables=data.tables,
            buckets=data.buckets,
            bus=bus.bus,
            tiers=tiers,
            jwt_secret=jwt_secret,
            websocket_stage=realtime.stage,
            state_machines=machines.by_name,
            indexed_tables={t.name: bool(t.indexes) for t in topology.tables},
            env=env,
        )
        for fn in (topology.authorizer, *topology.functions):
            grant_function(topology, fn, functions.by_name[fn.name], resources)
        for machine in topology.state_machines:
            grant_state_machine(machine, machines.by_name[machine.name], functions.aliases, resources)

        triggers = Triggers(
            self, "triggers", topology=topology, config=config, bus=bus.bus, functions=functions.aliases
        )
        # The alarms and the dashboard (over a hundred resources) in a nested stack of their own: a
        # stack holds at most 500 resources, and every function adds about ten to this one.
        monitoring = Monitoring(
            NestedStack(self, "monitoring-stack", description=f"aicore {env}: alarms and dashboard"),
            "monitoring",
            config=config,
            functions=functions.by_name,
            dead_letter_queues=triggers.dead_letter_queues,
            tiers=tiers,
            tables=data.tables,
            state_machines=machines.by_name,
            websocket=realtime.api,
            websocket_stage=realtime.stage,
            http=http.api,
        )
        self.functions = functions

        CfnOutput(self, "WebSocketUrl", value=realtime.stage.url, description="wss:// URL for game clients")
        CfnOutput(
            self, "ConnectionsUrl", value=realtime.stage.callback_url, description="@connections endpoint"
        )
        CfnOutput(self, "HttpUrl", value=http.stage.url, description="HTTP API base URL")
        CfnOutput(self, "EventBusName", value=bus.bus.event_bus_name)
        CfnOutput(
            self, "JwtSecretArn", value=jwt_secret.secret_arn, description="the key that signs player tokens"
        )
        CfnOutput(self, "AlarmTopicArn", value=monitoring.topic.topic_arn)
        CfnOutput(
            self,
            "DashboardUrl",
            value=f"https://console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}#dashboards:name="
            + physical_name(env, "dashboard"),
        )
        for name, model_tier in tiers.items():
            CfnOutput(self, f"{name.capitalize()}Endpoint", value=model_tier.endpoint_name)
        CfnOutput(
            self,
            "ModelsBucket",
            value=data.buckets[weights_bucket(topology)].bucket_name,
            description="staged model weights (hf/<model>/<revision>/)",
        )
        CfnOutput(
            self,
            "ReservedConcurrency",
            value=str(reserved_total(functions.reserved)),
            description="Lambda concurrency this environment needs in its account (reserved + 100)",
        )

    def _tier_setup_provider(self, config: EnvironmentConfig, handler: lambda_.IFunction) -> cr.Provider:
        """CloudFormation's provider for the tiers' custom resources: our handler, asked every 30 s."""
        logs_group = logs.LogGroup(
            self,
            "tier-setup-provider-logs",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        provider = cr.Provider(
            self,
            "tier-setup-provider",
            on_event_handler=handler,
            is_complete_handler=handler,
            query_interval=Duration.seconds(30),
            total_timeout=Duration.hours(2),  # the import of a 15 GB revision takes minutes, not hours
            log_group=logs_group,
            disable_waiter_state_machine_logging=False,
            waiter_state_machine_log_options=cr.LogOptions(
                destination=logs_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        acknowledge_provider(provider)
        return provider


def weights_bucket(topology: Topology) -> str:
    """The topology's bucket for model weights: the one the import steps write."""
    if MODEL_WEIGHTS not in topology.buckets:
        raise ValueError(f"model tiers need the {MODEL_WEIGHTS.name!r} bucket in the topology")
    return MODEL_WEIGHTS.name


def acknowledge_provider(provider: cr.Provider) -> None:
    """cdk-nag findings on CDK's own provider framework (its functions, roles and waiter)."""
    acknowledge(
        provider,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "CDK's custom resource framework functions write only their own logs with this AWS policy; "
        "the framework creates those roles itself.",
    )
    acknowledge(
        provider.node.find_child("waiter-state-machine"),
        wildcard_resource("*"),
        "Step Functions log delivery (logs:*LogDelivery*, DescribeResourcePolicies) takes no "
        "resource-level permissions; the waiter logs ALL to the provider's log group.",
    )
    for framework in ("isComplete", "onTimeout"):
        function = provider.node.find_child(f"framework-{framework}")
        acknowledge(
            provider,
            wildcard_resource(f"<{logical_id(function)}.Arn>:*"),
            f"CDK's waiter state machine invokes the framework's {framework} function and its versions "
            "(:*), nothing else.",
        )
    acknowledge(
        provider,
        "AwsSolutions-SF2",
        "CDK's waiter state machine for custom resources takes no X-Ray setting; it only polls our "
        "handler, which is traced itself.",
    )


class AicoreStage(Stage):
    """One environment: `aicore-<env>`, holding the stack `aicore-<env>`."""

    def __init__(
        self,
        scope: Construct,
        *,
        config: EnvironmentConfig,
        topology: Topology,
        sources: Sources,
        endpoints: Mapping[str, EndpointConfig],
        image_uris: Mapping[str, str],
    ) -> None:
        name = f"{SERVICE}-{config.name}"
        super().__init__(scope, name, env=Environment(account=config.account, region=config.region))
        self.stack = AicoreStack(
            self,
            "service",
            stack_name=name,
            description=f"aicore {config.name}: game AI backend (WebSocket + HTTP APIs, functions, models)",
            termination_protection=config.deletion_protection,
            config=config,
            topology=topology,
            sources=sources,
            endpoints=endpoints,
            image_uris=image_uris,
        )
        Tags.of(self).add("service", SERVICE)
        Tags.of(self).add("environment", config.name)
