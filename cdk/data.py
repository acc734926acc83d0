"""DynamoDB tables and S3 buckets of the topology."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from aicore.topology import Bucket, Index, Topology, physical_name
from cdk.config import MINIMUM_BILLABLE_BYTES, ArchiveLifecycle, EnvironmentConfig
from cdk.nag import acknowledge

# Incomplete multipart uploads (a model import that stopped half way) are not kept.
ABANDONED_UPLOADS = Duration.days(1)


class DataStore(Construct):
    """One on-demand table per topology table (PITR, TTL, deletion protection in prod) and the buckets."""

    def __init__(self, scope: Construct, id: str, *, topology: Topology, config: EnvironmentConfig) -> None:
        super().__init__(scope, id)
        removal = RemovalPolicy.RETAIN if config.deletion_protection else RemovalPolicy.DESTROY
        self.tables: dict[str, dynamodb.Table] = {}
        for table in topology.tables:
            self.tables[table.name] = dynamodb.Table(
                self,
                f"{table.name}-table",
                table_name=physical_name(config.name, table.name),
                partition_key=dynamodb.Attribute(
                    name=table.partition_key, type=dynamodb.AttributeType.STRING
                ),
                sort_key=(
                    dynamodb.Attribute(name=table.sort_key, type=dynamodb.AttributeType.STRING)
                    if table.sort_key
                    else None
                ),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                time_to_live_attribute=table.ttl_attribute,
                deletion_protection=config.deletion_protection,
                removal_policy=removal,
            )
            for index in table.indexes:
                self.tables[table.name].add_global_secondary_index(
                    index_name=index.name,
                    partition_key=dynamodb.Attribute(
                        name=index.partition_key, type=dynamodb.AttributeType.STRING
                    ),
                    sort_key=(
                        dynamodb.Attribute(name=index.sort_key, type=dynamodb.AttributeType.STRING)
                        if index.sort_key
                        else None
                    ),
                    projection_type=_projection(index),
                    non_key_attributes=list(index.include) or None,
                )

        self.access_logs = s3.Bucket(
            self,
            "access-logs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # the only encryption S3 server access logging accepts
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-logs", expiration=Duration.days(config.log_retention_days))
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This bucket receives the server access logs of the data buckets; "
            "logging it into itself would loop.",
        )
        self.buckets: dict[str, s3.Bucket] = {}
        lifecycle = config.archive
        for bucket in topology.buckets:
            # No bucket_name: S3 names are global, so CloudFormation picks a unique one and every
            # function learns it from its environment (`<NAME>_BUCKET`).
            self.buckets[bucket.name] = s3.Bucket(
                self,
                f"{bucket.name}-bucket",
                encryption=s3.BucketEncryption.S3_MANAGED,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                versioned=True,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                server_access_logs_bucket=self.access_logs,
                server_access_logs_prefix=f"{bucket.name}/",
                lifecycle_rules=lifecycle_rules(bucket, lifecycle),
                removal_policy=RemovalPolicy.RETAIN,
            )


def _projection(index: Index) -> dynamodb.ProjectionType:
    return dynamodb.ProjectionType.INCLUDE if index.include else dynamodb.ProjectionType.KEYS_ONLY


SCRATCH_EXPIRE_DAYS = 7  # far longer than any flow that writes scratch objects runs


def lifecycle_rules(bucket: Bucket, lifecycle: ArchiveLifecycle) -> list[s3.LifecycleRule]:
    """Old versions expire everywhere, scratch prefixes after a week; archival buckets also move
    objects to colder classes.

    S3 does not transition objects under 128 KiB unless a rule says which sizes it applies to
    (and bills Standard-IA and Glacier IR objects as at least 128 KiB), so each rule names its sizes:
    128 KiB and up go to Standard-IA, then Glacier Instant Retrieval; from `small_objects_min_bytes`
    to 128 KiB straight to Glacier IR, where they cost less than in Standard; smaller ones stay.
    """
    housekeeping = s3.LifecycleRule(
        id="housekeeping",
        noncurrent_version_expiration=Duration.days(lifecycle.noncurrent_expire_after_days),
        abort_incomplete_multipart_upload_after=ABANDONED_UPLOADS,
    )
    scratch = [
        s3.LifecycleRule(
            id=f"scratch-{prefix.strip('/').replace('/', '-')}",
            prefix=prefix,
            expiration=Duration.days(SCRATCH_EXPIRE_DAYS),
        )
        for prefix in bucket.scratch_prefixes
    ]
    if bucket.expire_after_days is not None:
        scratch.append(s3.LifecycleRule(id="expire", expiration=Duration.days(bucket.expire_after_days)))
    if not bucket.archival:
        return [housekeeping, *scratch]
    # Instant retrieval: a cold session is rehydrated while a player waits.
    glacier_ir = s3.Transition(
        storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
        transition_after=Duration.days(lifecycle.glacier_ir_after_days),
    )
    return [
        housekeeping,
        s3.LifecycleRule(
            id="cold-large",
            object_size_greater_than=MINIMUM_BILLABLE_BYTES - 1,
            transitions=[
                s3.Transition(
                    storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                    transition_after=Duration.days(lifecycle.infrequent_access_after_days),
                ),
                glacier_ir,
            ],
        ),
        s3.LifecycleRule(
            id="cold-small",
            object_size_greater_than=lifecycle.small_objects_min_bytes,
            object_size_less_than=MINIMUM_BILLABLE_BYTES,
            transitions=[glacier_ir],
        ),
        *scratch,
    ]
