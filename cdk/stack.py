"""The aicore stack: composes one construct per capability, all driven by the topology."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Aws, CfnOutput, Environment, Stack, Stage, Tags
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from aicore.llm.endpoints_config import EndpointConfig
from aicore.topology import SERVICE, Topology, physical_name, resource_environment
from cdk.access import Resources, check_declarations, grant_function, grant_state_machine
from cdk.apis import HttpApi, RealtimeApi
from cdk.config import EnvironmentConfig
from cdk.data import DataStore
from cdk.events import EventBus, Triggers
from cdk.functions import Functions
from cdk.model_tier import ModelTier
from cdk.monitoring import Monitoring
from cdk.nag import acknowledge
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
        tiers = {
            tier.name: ModelTier(
                self,
                f"{tier.name}-tier",
                tier=tier.name,
                endpoint=endpoints[tier.name],
                scaling=config.endpoints[tier.name],
                image_uri=image_uris[tier.name],
                config=config,
            )
            for tier in topology.model_tiers
        }

        # Every function sees the name of every resource, under the topology's variable names.
        environment = resource_environment(env, topology)
        environment |= {t.env_var: data.tables[t.name].table_name for t in topology.tables}
        environment |= {b.env_var: data.buckets[b.name].bucket_name for b in topology.buckets}
        environment[topology.bus.env_var] = bus.bus.event_bus_name
        for tier in topology.model_tiers:
            environment[tier.env_var] = tiers[tier.name].endpoint_name
            environment[tier.component_env_var] = tiers[tier.name].component_name
            if endpoints[tier.name].engine.engine == "tei":  # embedders record the model by name
                environment[f"{tier.name.upper()}_MODEL"] = endpoints[tier.name].model.hf_model_id
        functions = Functions(
            self, "functions", topology=topology, config=config, sources=sources, environment=environment
        )
        realtime = RealtimeApi(
            self, "realtime", topology=topology, config=config, functions=functions.by_name
        )
        http = HttpApi(self, "http", topology=topology, config=config, functions=functions.by_name)

        machines = StateMachines(
            self,
            "state-machines",
            topology=topology,
            config=config,
            sources=sources,
            names=environment,
            functions=functions.by_name,
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
        )
        for fn in (topology.authorizer, *topology.functions):
            grant_function(topology, fn, functions.by_name[fn.name], resources)
        for machine in topology.state_machines:
            grant_state_machine(machine, machines.by_name[machine.name], functions.by_name, resources)

        triggers = Triggers(
            self, "triggers", topology=topology, config=config, bus=bus.bus, functions=functions.by_name
        )
        monitoring = Monitoring(
            self,
            "monitoring",
            config=config,
            functions=functions.by_name,
            dead_letter_queues=triggers.dead_letter_queues,
            tiers=tiers,
            websocket=realtime.api,
            websocket_stage=realtime.stage,
            http=http.api,
        )

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
