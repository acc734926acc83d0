"""The dashboard and the alarms (to one SNS topic, with each environment's subscribers).

Alarms: every function's errors and throttles, every DLQ, every table's throttles, every state
machine's failed, timed-out and aborted executions, each tier's 5xx and first-token latency, NPC
turns that fell back (a gold outage that silver hides still alarms), WebSocket and HTTP errors.
Custom metrics are read with the environment's dimension, as `aicore.observability` emits them.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from aicore.llm.tiers import SCRIPTED
from aicore.topology import (
    ENVIRONMENT_DIMENSION,
    FALLBACK_METRIC,
    FIRST_TOKEN_METRIC,
    SERVICE,
    TIER_DIMENSION,
    physical_name,
)
from cdk.config import EnvironmentConfig
from cdk.model_tier import ModelTier

FIVE_MINUTES = Duration.minutes(5)
WIDTH = 12  # half of the dashboard's 24 columns
# A state machine's executions that ended badly, each its own metric (AWS/States).
EXECUTION_FAILURES = ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted")
# WebSocket errors that are ours (API Gateway's ClientError is mostly players' bad tokens and routes).
WEBSOCKET_ERRORS = ("ExecutionError", "IntegrationError")


def custom_metric(
    env: str, name: str, tier: str, statistic: str, *, label: str | None = None
) -> cloudwatch.Metric:
    """A metric the NPC turn emits (Powertools EMF: dimensions service, environment, tier)."""
    return cloudwatch.Metric(
        namespace=SERVICE,
        metric_name=name,
        dimensions_map={"service": SERVICE, ENVIRONMENT_DIMENSION: env, TIER_DIMENSION: tier},
        statistic=statistic,
        period=FIVE_MINUTES,
        label=label,
    )


def first_token_metric(env: str, tier: str, statistic: str, *, labelled: bool = True) -> cloudwatch.Metric:
    """The NPC turn's first-token latency for a tier."""
    return custom_metric(
        env, FIRST_TOKEN_METRIC, tier, statistic, label=f"{tier} {statistic}" if labelled else None
    )


def fallback_metric(env: str, tier: str, *, labelled: bool = True) -> cloudwatch.Metric:
    """Turns `tier` answered because the tier before it could not (Fallbacks is 1 on those, else 0)."""
    return custom_metric(env, FALLBACK_METRIC, tier, "Sum", label=f"{tier} fallbacks" if labelled else None)


class AlarmTopic(Construct):
    """The topic every alarm notifies, encrypted with a rotating key CloudWatch may use, and the
    environment's subscribers. In the top-level template: subscribers confirmed once stay confirmed."""

    def __init__(self, scope: Construct, id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, id)
        env = config.name
        # Alarms publish to an encrypted topic: CloudWatch needs a customer managed key it may use.
        key = kms.Key(
            self,
            "alarms-key",
            description=f"{physical_name(env, 'alarms')} topic encryption",
            enable_key_rotation=True,
        )
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(
            self,
            "alarms",
            topic_name=physical_name(env, "alarms"),
            display_name=f"aicore {env} alarms",
            master_key=key,
            enforce_ssl=True,
        )
        for address in config.alarms.email:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))
        for url in config.alarms.https:
            self.topic.add_subscription(
                subscriptions.UrlSubscription(url, protocol=sns.SubscriptionProtocol.HTTPS)
            )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        topic: sns.ITopic,
        functions: Mapping[str, lambda_.IFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        tiers: Mapping[str, ModelTier],
        tables: Mapping[str, dynamodb.ITable],
        state_machines: Mapping[str, sfn.IStateMachine],
        websocket: apigw.IWebSocketApi,
        websocket_stage: apigw.IWebSocketStage,
        http: apigw.IHttpApi,
    ) -> None:
        super().__init__(scope, id)
        env = config.name
        limits = config.alarms
        self.topic = topic
        self.alarms: list[cloudwatch.Alarm] = []

        # Tiers that stream tokens (LLMs) have a first-token budget; an embedding tier does not.
        generating = {n: t for n, t in tiers.items() if t.endpoint_config.engine.engine != "tei"}
        for name, tier in tiers.items():
            budget = tier.endpoint_config.latency_budget_ms
            if name in generating:
                self._alarm(
                    f"{name}-first-token",
                    first_token_metric(env, name, "p90", labelled=False),
                    threshold=budget,
                    periods=3,
                    description=f"{name}: p90 first token over its {budget} ms budget for 15 minutes",
                )
            self._alarm(
                f"{name}-errors",
                tier.metric("Invocation5XXErrors", labelled=False),
                threshold=5,
                description=f"{name}: endpoint 5xx errors",
            )
        # A turn that fell back is counted under the tier that answered it: silver (gold failed),
        # or the scripted line (every tier failed). Each answering tier has its alarm.
        for answering in (*generating, SCRIPTED):
            self._alarm(
                f"{answering}-fallbacks",
                fallback_metric(env, answering, labelled=False),
                threshold=limits.fallbacks_per_5_min,
                description=f"NPC turns answered by {answering} because the tier before it failed: "
                "look at the tiers' errors and breakers",
            )
        for name, function in functions.items():
            self._alarm(
                f"{name}-errors",
                function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                threshold=limits.lambda_errors_per_5_min,
                description=f"{name}: function errors",
            )
            self._alarm(
                f"{name}-throttles",
                function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                threshold=limits.throttles_per_5_min,
                description=f"{name}: invocations throttled (reserved or account concurrency reached)",
            )
        for name, queue in dead_letter_queues.items():
            self._alarm(
                f"{name}-dlq",
                queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"),
                threshold=1,
                description=f"{name}: failed events are waiting in its dead-letter queue",
            )
        for name, table in tables.items():
            self._alarm(
                f"{name}-table-throttles",
                cloudwatch.MathExpression(
                    expression="reads + writes",
                    using_metrics={
                        "reads": table.metric("ReadThrottleEvents", period=FIVE_MINUTES, statistic="Sum"),
                        "writes": table.metric("WriteThrottleEvents", period=FIVE_MINUTES, statistic="Sum"),
                    },
                    period=FIVE_MINUTES,
                ),
                threshold=limits.throttles_per_5_min,
                description=f"{name} table: requests throttled (hot partition or account limit)",
            )
        for name, machine in state_machines.items():
            for metric in EXECUTION_FAILURES:
                self._alarm(
                    f"{name}-{metric}",
                    machine.metric(metric, period=FIVE_MINUTES, statistic="Sum"),
                    threshold=1,
                    description=f"{name}: {metric} (its executions' history says why)",
                )
        ws_dimensions = {"ApiId": websocket.api_id, "Stage": websocket_stage.stage_name}
        for metric in WEBSOCKET_ERRORS:
            self._alarm(
                f"websocket-{metric}",
                cloudwatch.Metric(
                    namespace="AWS/ApiGateway",
                    metric_name=metric,
                    dimensions_map=ws_dimensions,
                    statistic="Sum",
                    period=FIVE_MINUTES,
                ),
                threshold=limits.websocket_errors_per_5_min,
                description=f"WebSocket API {metric}: calling our functions failed",
            )
        http_5xx = http.metric_server_error(period=FIVE_MINUTES, statistic="Sum")
        self._alarm("http-5xx", http_5xx, threshold=5, description="HTTP API answered 5xx")

        self.dashboard = cloudwatch.Dashboard(
            self,
            "dashboard",
            dashboard_name=physical_name(env, "dashboard"),
            default_interval=Duration.hours(3),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="First token latency by tier (ms)",
                width=WIDTH,
                left=[first_token_metric(env, t, s) for t in generating for s in ("p50", "p90", "p99")],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=tier.endpoint_config.latency_budget_ms, label=f"{t} budget"
                    )
                    for t, tier in generating.items()
                ],
            ),
            cloudwatch.GraphWidget(
                title="Model tier errors and fallbacks",
                width=WIDTH,
                left=[
                    tier.metric(m)
                    for tier in tiers.values()
                    for m in ("Invocation5XXErrors", "Invocation4XXErrors")
                ],
                right=[fallback_metric(env, t) for t in (*generating, SCRIPTED)],
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Model tier invocations and latency",
                width=WIDTH,
                left=[tier.metric("Invocations") for tier in tiers.values()],
                right=[tier.metric("ModelLatency", statistic="p90") for tier in tiers.values()],
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queue depth",
                width=WIDTH,
                left=[
                    q.metric_approximate_number_of_messages_visible(
                        period=FIVE_MINUTES, statistic="Maximum", label=n
                    )
                    for n, q in dead_letter_queues.items()
                ],
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Lambda errors",
                width=WIDTH,
                left=[
                    f.metric_errors(period=FIVE_MINUTES, statistic="Sum", label=n)
                    for n, f in functions.items()
                ],
                right=[
                    f.metric_throttles(period=FIVE_MINUTES, statistic="Sum", label=f"{n} throttles")
                    for n, f in functions.items()
                ],
            ),
            cloudwatch.GraphWidget(
                title="Lambda duration p99 (ms)",
                width=WIDTH,
                left=[
                    f.metric_duration(period=FIVE_MINUTES, statistic="p99", label=n)
                    for n, f in functions.items()
                ],
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="WebSocket connections and messages",
                width=WIDTH,
                left=[
                    cloudwatch.Metric(
                        namespace="AWS/ApiGateway",
                        metric_name=metric,
                        dimensions_map=ws_dimensions,
                        statistic="Sum",
                        period=FIVE_MINUTES,
                        label=metric,
                    )
                    for metric in ("ConnectCount", "MessageCount", "ClientError", *WEBSOCKET_ERRORS)
                ],
            ),
            cloudwatch.GraphWidget(
                title="HTTP API",
                width=WIDTH,
                left=[
                    http.metric_count(period=FIVE_MINUTES, statistic="Sum"),
                    http.metric_client_error(period=FIVE_MINUTES, statistic="Sum"),
                    http_5xx,
                ],
                right=[http.metric_latency(period=FIVE_MINUTES, statistic="p99")],
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="State machine executions that failed, timed out or were aborted",
                width=24,
                left=[
                    m.metric(metric, period=FIVE_MINUTES, statistic="Sum", label=f"{n} {metric}")
                    for n, m in state_machines.items()
                    for metric in EXECUTION_FAILURES
                ],
            )
        )
        self.dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", width=24, alarms=self.alarms))

    def _alarm(
        self, id: str, metric: cloudwatch.IMetric, *, threshold: float, description: str, periods: int = 1
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        alarm.add_ok_action(cloudwatch_actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm
