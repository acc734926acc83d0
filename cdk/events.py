"""The event bus (with an archive for replay) and the DLQs (top-level template); the topology's rules
and schedules (a nested stack)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from aicore.topology import Function, Topology, physical_name
from cdk.config import EnvironmentConfig
from cdk.nag import acknowledge

# Lambda's own retries of a failed asynchronous invocation, before the failure goes to the DLQ.
ASYNC_RETRIES = 2


class EventBus(Construct):
    def __init__(self, scope: Construct, id: str, *, topology: Topology, config: EnvironmentConfig) -> None:
        super().__init__(scope, id)
        self.bus = events.EventBus(self, "bus", event_bus_name=physical_name(config.name, topology.bus.name))
        self.archive = events.Archive(
            self,
            "archive",
            source_event_bus=self.bus,
            archive_name=physical_name(config.name, f"{topology.bus.name}-archive"),
            description="Every event on the bus, for replay",
            event_pattern=events.EventPattern(account=[Stack.of(self).account]),
            retention=Duration.days(config.events.archive_retention_days),
        )


class DeadLetterQueues(Construct):
    """One DLQ per function triggered asynchronously (by a rule or a schedule): the target's
    dead-letter queue (delivery failed) and the function's on-failure destination (the handler
    failed after Lambda's retries). In the top-level template: they hold failed events until
    someone redrives them. `by_function[fn.name]`, also for the alarms."""

    def __init__(self, scope: Construct, id: str, *, topology: Topology, config: EnvironmentConfig) -> None:
        super().__init__(scope, id)
        self.by_function: dict[str, sqs.Queue] = {}
        for fn in topology.functions:
            if not fn.events and not fn.schedules:
                continue
            queue = sqs.Queue(
                self,
                f"{fn.name}-dlq",
                queue_name=physical_name(config.name, f"{fn.name}-dlq"),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=Duration.days(config.events.dlq_retention_days),
            )
            acknowledge(
                queue,
                "AwsSolutions-SQS3",
                f"This queue is itself the dead-letter queue of {fn.name}'s rules, schedules "
                "and async failures.",
            )
            self.by_function[fn.name] = queue


class Triggers(Construct):
    """Rules and schedules from the topology; each target retries, then lands in its function's DLQ."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topology: Topology,
        config: EnvironmentConfig,
        bus: events.IEventBus,
        functions: Mapping[str, lambda_.IFunction],  # the `live` aliases
        dead_letter_queues: Mapping[str, sqs.IQueue],
    ) -> None:
        super().__init__(scope, id)
        self._config = config
        self.rules: dict[str, events.Rule] = {}
        self.schedules: dict[str, scheduler.Schedule] = {}
        retries = config.events.retry_attempts
        max_age = Duration.seconds(config.events.max_event_age_s)
        for fn in topology.functions:
            if not fn.events and not fn.schedules:
                continue
            function = functions[fn.name]
            dlq = dead_letter_queues[fn.name]
            function.configure_async_invoke(
                retry_attempts=ASYNC_RETRIES,
                max_event_age=max_age,
                on_failure=destinations.SqsDestination(dlq),
            )
            for rule in fn.events:
                self.rules[rule.name] = events.Rule(
                    self,
                    f"{rule.name}-rule",
                    rule_name=physical_name(config.name, rule.name),
                    description=f"{rule.source} {', '.join(rule.detail_types)} -> {fn.name}",
                    event_bus=bus,
                    event_pattern=events.EventPattern(
                        source=[rule.source], detail_type=list(rule.detail_types)
                    ),
                    targets=[
                        targets.LambdaFunction(
                            function, dead_letter_queue=dlq, retry_attempts=retries, max_event_age=max_age
                        )
                    ],
                )
            if fn.schedules:
                self._schedules(fn, function, dlq, retries, max_age)

    def _schedules(
        self, fn: Function, function: lambda_.IFunction, dlq: sqs.IQueue, retries: int, max_age: Duration
    ) -> None:
        # Scheduler's role for this function: may invoke its live alias, nothing else.
        role = iam.Role(
            self,
            f"{fn.name}-scheduler-role",
            assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description=f"EventBridge Scheduler invokes {physical_name(self._config.name, fn.name)}",
        )
        for schedule in fn.schedules:
            self.schedules[schedule.name] = scheduler.Schedule(
                self,
                f"{schedule.name}-schedule",
                schedule_name=physical_name(self._config.name, schedule.name),
                description=f"{schedule.expression} -> {fn.name}",
                schedule=scheduler.ScheduleExpression.expression(schedule.expression),
                target=scheduler_targets.LambdaInvoke(
                    function,
                    role=role,
                    dead_letter_queue=dlq,
                    retry_attempts=retries,
                    max_event_age=max_age,
                    input=scheduler.ScheduleTargetInput.from_object(
                        {"schedule": schedule.name, "environment": self._config.name}
                    ),
                ),
            )
