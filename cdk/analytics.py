"""The analytics stream: an EventBridge rule on the topology's analytics events -> Kinesis Data
Firehose -> JSON lines by day in the analytics bucket -> a Glue table (partition projection, no
crawler) -> Athena, with the saved queries as named queries.

No Lambda: the rule's input transformer shapes each record (`aicore.analytics.records`, the same
transformer the local runtime runs) and Firehose's own processors partition it by the event's day
(jq) and end each record with a newline. JSON, gzip-compressed: Athena reads it with the OpenX
JSON SerDe under the table's columns; the local runtime writes the same lines uncompressed.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_athena as athena
from aws_cdk import aws_events as events
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from aicore.analytics.queries import saved_queries
from aicore.analytics.records import (
    COLUMNS,
    EVENTS_PREFIX,
    INPUT_PATHS,
    INPUT_TEMPLATE,
    PARTITION,
    PARTITION_QUERY,
    TABLE,
    glue_detail_type,
)
from aicore.topology import AnalyticsStream, physical_name
from cdk.config import EnvironmentConfig
from cdk.nag import acknowledge, logical_id, wildcard_resource
from cdk.retention import retention

ERRORS_PREFIX = "errors/"
RESULTS_PREFIX = "athena-results/"  # the bucket's scratch prefix: results expire
# Firehose writes an object per partition when either is reached (64 MiB is dynamic partitioning's
# least): analytics are at most this late.
BUFFER_S = 300
BUFFER_MB = 64
# A query scanning more is cancelled: at Athena's $5 per TB, at most ~$0.05 a query.
SCAN_LIMIT_BYTES = 10 * 1024**3
FIRST_DAY = "2026-01-01"  # partition projection's first day


def glue_name(env: str, name: str) -> str:
    """Glue and Athena names: lowercase letters, digits and underscores."""
    return physical_name(env, name).replace("-", "_")


class Analytics(Construct):
    """Everything downstream of the bus for analytics; the bucket itself is the topology's (DataStore)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        stream: AnalyticsStream,
        config: EnvironmentConfig,
        bucket: s3.IBucket,
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, id)
        env = config.name
        self.delivery_stream = self._delivery_stream(stream, config, bucket)
        self.rule = self._rule(stream, config, bus)
        self.database_name = glue_name(env, stream.name)
        self.table = self._table(bucket)
        self.workgroup = athena.CfnWorkGroup(
            self,
            "workgroup",
            name=physical_name(env, stream.name),
            description=f"aicore {env}: the saved analytics queries over {self.database_name}.{TABLE}",
            recursive_delete_option=True,  # its saved queries go with it; results stay in the bucket
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=SCAN_LIMIT_BYTES,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"
                ),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=bucket.s3_url_for_object(RESULTS_PREFIX),
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_S3"
                    ),
                ),
            ),
        )
        self.named_queries: dict[str, athena.CfnNamedQuery] = {}
        for query in saved_queries():
            named = athena.CfnNamedQuery(
                self,
                f"{query.name}-query",
                name=query.name,
                description=query.description[:1024],
                database=self.database_name,
                query_string=query.sql,
                work_group=self.workgroup.ref,
            )
            named.add_dependency(self.table)
            self.named_queries[query.name] = named

    def _delivery_stream(
        self, stream: AnalyticsStream, config: EnvironmentConfig, bucket: s3.IBucket
    ) -> firehose.CfnDeliveryStream:
        log_group = logs.LogGroup(
            self,
            "delivery-logs",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        log_stream = logs.LogStream(
            self, "delivery-log-stream", log_group=log_group, removal_policy=RemovalPolicy.DESTROY
        )
        role = iam.Role(
            self,
            "delivery-role",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
            description=f"Firehose writes {physical_name(config.name, stream.name)}'s records, nothing else",
        )
        # Objects under its two prefixes only (records; records it could not partition or write).
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:AbortMultipartUpload", "s3:PutObject"],
                resources=[
                    bucket.arn_for_objects(f"{EVENTS_PREFIX}*"),
                    bucket.arn_for_objects(f"{ERRORS_PREFIX}*"),
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                resources=[bucket.bucket_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:PutLogEvents"],
                resources=[
                    f"{log_group.log_group_arn.removesuffix(':*')}:log-stream:{log_stream.log_stream_name}"
                ],
            )
        )
        acknowledge(
            role,
            wildcard_resource(f"<{logical_id(bucket)}.Arn>/{EVENTS_PREFIX}*"),
            "Firehose names each object itself (day partition, time, random suffix) under the "
            "records' prefix.",
        )
        acknowledge(
            role,
            wildcard_resource(f"<{logical_id(bucket)}.Arn>/{ERRORS_PREFIX}*"),
            "Firehose names each object itself under the prefix of records it could not deliver.",
        )
        delivery = firehose.CfnDeliveryStream(
            self,
            "delivery-stream",
            delivery_stream_name=physical_name(config.name, stream.name),
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="AWS_OWNED_CMK"
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=bucket.bucket_arn,
                role_arn=role.role_arn,
                prefix=f"{EVENTS_PREFIX}{PARTITION}=!{{partitionKeyFromQuery:{PARTITION}}}/",
                error_output_prefix=f"{ERRORS_PREFIX}!{{firehose:error-output-type}}/{PARTITION}=!{{timestamp:yyyy-MM-dd}}/",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=BUFFER_S, size_in_m_bs=BUFFER_MB
                ),
                compression_format="GZIP",
                dynamic_partitioning_configuration=firehose.CfnDeliveryStream.DynamicPartitioningConfigurationProperty(
                    enabled=True,
                    retry_options=firehose.CfnDeliveryStream.RetryOptionsProperty(duration_in_seconds=300),
                ),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[
                        firehose.CfnDeliveryStream.ProcessorProperty(
                            type="MetadataExtraction",
                            parameters=[
                                firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                    parameter_name="MetadataExtractionQuery", parameter_value=PARTITION_QUERY
                                ),
                                firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                    parameter_name="JsonParsingEngine", parameter_value="JQ-1.6"
                                ),
                            ],
                        ),
                        firehose.CfnDeliveryStream.ProcessorProperty(type="AppendDelimiterToRecord"),
                    ],
                ),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=log_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name,
                ),
            ),
        )
        delivery.node.add_dependency(role)  # its policy exists before Firehose checks it can write
        return delivery

    def _rule(
        self, stream: AnalyticsStream, config: EnvironmentConfig, bus: events.IEventBus
    ) -> events.CfnRule:
        role = iam.Role(
            self,
            "rule-role",
            assumed_by=iam.ServicePrincipal("events.amazonaws.com"),
            description=f"EventBridge puts {physical_name(config.name, stream.name)}'s events on its stream",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["firehose:PutRecord", "firehose:PutRecordBatch"],
                resources=[self.delivery_stream.attr_arn],
            )
        )
        dead_letters = sqs.Queue(
            self,
            "rule-dlq",
            queue_name=physical_name(config.name, f"{stream.name}-dlq"),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(config.events.dlq_retention_days),
        )
        acknowledge(
            dead_letters,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the analytics rule's Firehose target.",
        )
        rule = events.CfnRule(
            self,
            "rule",
            name=physical_name(config.name, stream.name),
            description=f"{', '.join(stream.detail_types)} -> the analytics stream",
            event_bus_name=bus.event_bus_name,
            event_pattern=stream.pattern,
            state="ENABLED",
            targets=[
                events.CfnRule.TargetProperty(
                    id="analytics-stream",
                    arn=self.delivery_stream.attr_arn,
                    role_arn=role.role_arn,
                    input_transformer=events.CfnRule.InputTransformerProperty(
                        input_paths_map=INPUT_PATHS, input_template=INPUT_TEMPLATE
                    ),
                    retry_policy=events.CfnRule.RetryPolicyProperty(
                        maximum_retry_attempts=config.events.retry_attempts,
                        maximum_event_age_in_seconds=config.events.max_event_age_s,
                    ),
                    dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=dead_letters.queue_arn),
                )
            ],
        )
        dead_letters.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[dead_letters.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule.attr_arn}},
            )
        )
        self.dead_letters = dead_letters
        return rule

    def _table(self, bucket: s3.IBucket) -> glue.CfnTable:
        database = glue.CfnDatabase(
            self,
            "database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name, description="aicore analytics: the bus's events by day"
            ),
        )
        location = bucket.s3_url_for_object(EVENTS_PREFIX)
        table = glue.CfnTable(
            self,
            "events-table",
            catalog_id=Aws.ACCOUNT_ID,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=TABLE,
                description="One JSON line per analytics event (aicore.analytics.records), by day",
                table_type="EXTERNAL_TABLE",
                partition_keys=[glue.CfnTable.ColumnProperty(name=PARTITION, type="string")],
                parameters={
                    "classification": "json",
                    "compressionType": "gzip",
                    # Partition projection: Athena computes the days itself; no crawler, no MSCK REPAIR.
                    "projection.enabled": "true",
                    f"projection.{PARTITION}.type": "date",
                    f"projection.{PARTITION}.format": "yyyy-MM-dd",
                    f"projection.{PARTITION}.range": f"{FIRST_DAY},NOW",
                    f"projection.{PARTITION}.interval": "1",
                    f"projection.{PARTITION}.interval.unit": "DAYS",
                    "storage.location.template": f"{location}{PARTITION}=${{{PARTITION}}}/",
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    columns=[
                        *(glue.CfnTable.ColumnProperty(name=name, type=kind) for name, kind in COLUMNS),
                        glue.CfnTable.ColumnProperty(name="detail", type=glue_detail_type()),
                    ],
                    location=location,
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    compressed=True,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.openx.data.jsonserde.JsonSerDe",
                        parameters={"ignore.malformed.json": "true"},
                    ),
                ),
            ),
        )
        table.add_dependency(database)
        return table
