"""The aicore stack: composes one construct per capability, all driven by the topology."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from typing import Any

from aws_cdk import (
    Aws,
    CfnOutput,
    CustomResource,
    Duration,
    Environment,
    NestedStack,
    RemovalPolicy,
    Stack,
    Stage,
    Tags,
)
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct

from aicore.llm.endpoints_config import EndpointConfig
from aicore.topology import (
    IDENTITY_KEYS,
    MODEL_TIER_SETUP,
    MODEL_WEIGHTS,
    QA_REPORTS,
    QA_RUN_FLOW,
    SERVICE,
    Topology,
    physical_name,
    resource_environment,
)
from aicore.topology import Secret as TopologySecret
from cdk.access import Resources, check_declarations, grant_function, grant_state_machine
from cdk.analytics import Analytics
from cdk.apis import HttpApi, HttpRoutes, RealtimeApi, RealtimeRoutes, deploy_after
from cdk.config import EnvironmentConfig
from cdk.data import DataStore
from cdk.events import DeadLetterQueues, EventBus, Triggers
from cdk.functions import FunctionLogs, Functions, reserved_total
from cdk.model_tier import ModelTier
from cdk.monitoring import AlarmTopic, Monitoring
from cdk.nag import acknowledge, logical_id, wildcard_resource
from cdk.retention import retention
from cdk.sources import REPO_ROOT, Sources
from cdk.state_machines import StateMachineLogs, StateMachines


class AicoreStack(Stack):
    """One environment: a top-level template and four nested stacks, all from the topology.

    The top-level template keeps what a replacement would lose or change for someone outside:
    tables, buckets, the bus and its archive, the signing keys, every log group, the dead-letter
    queues, the alarm topic and its key, the APIs and their stages (their URLs), the model tiers
    (named SageMaker endpoints on GPUs) and the outputs. Each of those keeps the construct path,
    so the logical ID, it had when all of it was one template. The nested stacks hold what is
    rebuilt freely and grows with the topology: `compute` (functions, their roles, versions,
    aliases and deployments; state machines), `api-routes`, `event-triggers` and `alarms`.
    CloudFormation allows 500 resources per template; tests/infra holds each under a budget.
    """

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

        # Kept here, under the ids they always had (tests/infra/test_layout.py pins them).
        data = DataStore(self, "data", topology=topology, config=config)
        bus = EventBus(self, "events", topology=topology, config=config)
        signing_secret = self._signing_secret(topology, env)
        secrets = {s.name: self._operator_secret(s, env) for s in topology.secrets}
        function_logs = FunctionLogs(self, "functions", topology=topology, config=config)
        flow_logs = StateMachineLogs(self, "state-machines", topology=topology, config=config)
        dead_letter_queues = DeadLetterQueues(self, "triggers", topology=topology, config=config)
        realtime = RealtimeApi(self, "realtime", topology=topology, config=config)
        http = HttpApi(self, "http", topology=topology, config=config)
        alarm_topic = AlarmTopic(self, "monitoring", config=config)
        if topology.analytics is not None:  # rule -> Firehose -> the bucket, Glue, Athena (cdk/analytics.py)
            analytics = Analytics(
                self,
                "analytics",
                stream=topology.analytics,
                config=config,
                bucket=data.buckets[topology.analytics.bucket.name],
                bus=bus.bus,
            )
            CfnOutput(
                self,
                "AnalyticsWorkgroup",
                value=analytics.workgroup.ref,
                description=f"Athena workgroup with the saved queries over {analytics.database_name}",
            )

        # Every function sees the name of every resource, under the topology's variable names
        # (endpoints and components by their physical names, which the tiers below take).
        environment = resource_environment(env, topology)
        environment |= {t.env_var: data.tables[t.name].table_name for t in topology.tables}
        environment |= {b.env_var: data.buckets[b.name].bucket_name for b in topology.buckets}
        environment[topology.bus.env_var] = bus.bus.event_bus_name
        environment |= identity_environment(config)
        for tier in topology.model_tiers:
            if endpoints[tier.name].engine.engine == "tei":  # embedders record the model by name
                environment[f"{tier.name.upper()}_MODEL"] = endpoints[tier.name].model.hf_model_id
        compute = NestedStack(
            self,
            "compute",
            description=f"aicore {env}: functions, their roles and deployments; state machines",
        )
        functions = Functions(
            compute,
            "functions",
            topology=topology,
            config=config,
            sources=sources,
            environment=environment,
            log_groups=function_logs.by_name,
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
        machines = StateMachines(
            compute,
            "state-machines",
            topology=topology,
            config=config,
            sources=sources,
            names=environment,
            functions=functions.aliases,
            log_groups=flow_logs.by_name,
        )
        resources = Resources(
            tables=data.tables,
            buckets=data.buckets,
            bus=bus.bus,
            tiers=tiers,
            signing_secret=signing_secret,
            secrets=secrets,
            websocket_stage=realtime.stage,
            state_machines=machines.by_name,
            indexed_tables={t.name: bool(t.indexes) for t in topology.tables},
            env=env,
        )
        for fn in topology.all_functions:
            grant_function(topology, fn, functions.by_name[fn.name], resources)
        for machine in topology.state_machines:
            grant_state_machine(machine, machines.by_name[machine.name], functions.aliases, resources)

        api_routes = NestedStack(
            self, "api-routes", description=f"aicore {env}: WebSocket and HTTP routes, authorizers"
        )
        RealtimeRoutes(
            api_routes,
            "realtime",
            api=realtime.api,
            topology=topology,
            config=config,
            functions=functions.aliases,
        )
        HttpRoutes(
            api_routes, "http", api=http.api, topology=topology, config=config, functions=functions.aliases
        )
        for stage in (realtime.stage, http.stage):
            deploy_after(stage, api_routes)

        event_triggers = NestedStack(
            self, "event-triggers", description=f"aicore {env}: event rules and schedules"
        )
        Triggers(
            event_triggers,
            "triggers",
            topology=topology,
            config=config,
            bus=bus.bus,
            functions=functions.aliases,
            dead_letter_queues=dead_letter_queues.by_function,
        )
        alarms = NestedStack(self, "alarms", description=f"aicore {env}: alarms and the dashboard")
        Monitoring(
            alarms,
            "monitoring",
            config=config,
            topic=alarm_topic.topic,
            functions=functions.by_name,
            dead_letter_queues=dead_letter_queues.by_function,
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
        if signing_secret is not None:
            self._set_up_keys_at_deploy(functions.aliases[IDENTITY_KEYS])
            CfnOutput(
                self,
                "SigningKeysSecretArn",
                value=signing_secret.secret_arn,
                description="the private keys that sign access tokens (identity-keys rotates them)",
            )
            CfnOutput(
                self,
                "JwksUrl",
                value=f"{http.stage.url}.well-known/jwks.json",
                description="the public keys that verify access tokens",
            )
        for declared in topology.secrets:
            CfnOutput(
                self,
                "".join(part.capitalize() for part in declared.name.split("-")) + "Arn",
                value=secrets[declared.name].secret_arn,
                description=declared.description,
            )
        CfnOutput(self, "AlarmTopicArn", value=alarm_topic.topic.topic_arn)
        CfnOutput(
            self,
            "DashboardUrl",
            value=f"https://console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}#dashboards:name="
            + physical_name(env, "dashboard"),
        )
        for name, model_tier in tiers.items():
            CfnOutput(self, f"{name.capitalize()}Endpoint", value=model_tier.endpoint_name)
        if QA_RUN_FLOW in machines.by_name and QA_REPORTS.name in data.buckets:  # `aicore qa run --env`
            CfnOutput(
                self,
                "QaRunStateMachineArn",
                value=machines.by_name[QA_RUN_FLOW].state_machine_arn,
                description="the QA flow: synthetic players in batches, then the report",
            )
            CfnOutput(
                self,
                "QaReportsBucket",
                value=data.buckets[QA_REPORTS.name].bucket_name,
                description="QA reports (runs/<run_id>/report.json and report.html), kept 30 days",
            )
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

    def _signing_secret(self, topology: Topology, env: str) -> secretsmanager.Secret | None:
        """The private key set: created with an empty set (and a throwaway value CloudFormation
        generates once); the key set-up below fills it at the first deploy, the schedule rotates it."""
        if topology.signing_keys is None:
            return None
        secret = secretsmanager.Secret(
            self,
            "signing-keys",
            secret_name=topology.signing_keys.secret_name(env),
            description=f"aicore {env}: the ES256 keys that sign access tokens (next, current, previous)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"keys": []}),
                generate_string_key="bootstrap",
                exclude_punctuation=True,
            ),
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "The signing keys rotate on our own schedule (identity-keys, EventBridge Scheduler, weekly), "
            "which publishes each public key a period before use and keeps the old one until its tokens "
            "expire; Secrets Manager's rotation cannot publish a JWKS.",
        )
        return secret

    def _operator_secret(self, declared: TopologySecret, env: str) -> secretsmanager.Secret:
        """A secret the operator puts after the first deploy (a throwaway generated value until then:
        no signature verifies under it, so nothing is accepted before the real one is put)."""
        secret = secretsmanager.Secret(
            self,
            declared.name,
            secret_name=declared.secret_name(env),
            description=f"aicore {env}: {declared.description}",
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "A third party (the payment provider) issues this secret; the operator rolls it there and "
            "puts the new value (the webhook accepts several while one rolls).",
        )
        return secret

    def _set_up_keys_at_deploy(self, handler: lambda_.IFunction) -> None:
        """A custom resource the identity-keys function answers itself: the first keys (idempotent)."""
        CustomResource(
            self,
            "signing-keys-setup",
            service_token=handler.function_arn,
            resource_type="Custom::SigningKeys",
            properties={"Purpose": "a current and a next signing key, published"},
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


def identity_environment(config: EnvironmentConfig) -> dict[str, str]:
    """The identity settings every function sees, and the version `GET /status` answers."""
    identity = config.identity
    return {
        "IDENTITY_WORLDS": ",".join(identity.worlds),
        "IDENTITY_TRUSTED_ISSUERS": json.dumps(identity.trusted_issuers, separators=(",", ":")),
        "ACCESS_TOKEN_TTL_S": str(identity.access_token_ttl_s),
        "SERVICE_VERSION": project_version(),
    }


def project_version() -> str:
    """`[project] version` of pyproject.toml: what this synth deploys (no git: synth is offline)."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return str(pyproject["project"]["version"])


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
