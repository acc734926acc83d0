"""The analytics stream in the cloud: rule -> Firehose -> the analytics bucket by day -> Glue -> Athena."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aicore.analytics.queries import saved_queries
from aicore.analytics.records import INPUT_PATHS, INPUT_TEMPLATE, PARTITION_QUERY, glue_detail_type
from aicore.topology import physical_name
from tests.infra.conftest import ENVIRONMENTS, Synth


def _one(synth: Synth, env: str, kind: str) -> tuple[str, dict[str, Any]]:
    (found,) = synth.resources(env, kind).items()
    return found


def _analytics_bucket(synth: Synth, env: str) -> str:
    (logical,) = [k for k in synth.resources(env, "AWS::S3::Bucket") if k.startswith("dataanalyticsbucket")]
    return logical


def _statements(synth: Synth, env: str, role: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in synth.resources(env, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_rule_sends_the_topologys_analytics_events_to_the_stream_and_nothing_more(
    synth: Synth, env: str
) -> None:
    stream_id, _ = _one(synth, env, "AWS::KinesisFirehose::DeliveryStream")
    (rule,) = [
        r
        for r in synth.resources(env, "AWS::Events::Rule").values()
        if r["Properties"].get("Name") == physical_name(env, "analytics")
    ]
    props = rule["Properties"]
    assert props["EventPattern"] == synth.topologies[env].analytics.pattern  # type: ignore[union-attr]
    (target,) = props["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    # The cloud's transformer is the one the local runtime runs (aicore.analytics.records)
    assert target["InputTransformer"] == {"InputPathsMap": INPUT_PATHS, "InputTemplate": INPUT_TEMPLATE}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == synth.configs[env].events.retry_attempts
    assert "DeadLetterConfig" in target
    # The rule's role may put records on that stream, nothing else
    role = target["RoleArn"]["Fn::GetAtt"][0]
    assert _statements(synth, env, role) == [
        {
            "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [stream_id, "Arn"]},
        }
    ]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_stream_writes_json_lines_by_day_into_its_prefix_of_the_analytics_bucket(
    synth: Synth, env: str
) -> None:
    bucket = _analytics_bucket(synth, env)
    _, stream = _one(synth, env, "AWS::KinesisFirehose::DeliveryStream")
    props = stream["Properties"]
    assert props["DeliveryStreamEncryptionConfigurationInput"] == {"KeyType": "AWS_OWNED_CMK"}
    s3 = props["ExtendedS3DestinationConfiguration"]
    assert s3["BucketARN"] == {"Fn::GetAtt": [bucket, "Arn"]}
    assert s3["Prefix"] == "events/dt=!{partitionKeyFromQuery:dt}/"
    assert s3["ErrorOutputPrefix"].startswith("errors/")
    assert s3["DynamicPartitioningConfiguration"]["Enabled"] is True
    processors = {p["Type"]: p.get("Parameters", []) for p in s3["ProcessingConfiguration"]["Processors"]}
    assert {"ParameterName": "MetadataExtractionQuery", "ParameterValue": PARTITION_QUERY} in processors[
        "MetadataExtraction"
    ]
    assert "AppendDelimiterToRecord" in processors  # one JSON object per line
    assert s3["CloudWatchLoggingOptions"]["Enabled"] is True
    # Firehose's role writes objects under its two prefixes only
    role = s3["RoleARN"]["Fn::GetAtt"][0]
    writes = [s for s in _statements(synth, env, role) if "s3:PutObject" in s["Action"]]
    assert [w["Resource"] for w in writes] == [
        [
            {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/events/*"]]},
            {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/errors/*"]]},
        ]
    ]
    # The bucket: private, encrypted, TLS only, with a lifecycle (Athena's results are scratch)
    bucket_props = synth.resource(env, bucket)["Properties"]
    assert all(bucket_props["PublicAccessBlockConfiguration"].values())
    assert "BucketEncryption" in bucket_props
    rules = {r["Id"]: r for r in bucket_props["LifecycleConfiguration"]["Rules"]}
    assert rules["scratch-athena-results"]["Prefix"] == "athena-results/"
    assert rules["scratch-athena-results"]["ExpirationInDays"] == 7
    assert {"housekeeping", "cold-large", "cold-small"} <= set(rules)  # records cool down as archives do
    (policy,) = [
        p
        for p in synth.resources(env, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_glue_table_projects_its_day_partitions(synth: Synth, env: str) -> None:
    bucket = _analytics_bucket(synth, env)
    _, table = _one(synth, env, "AWS::Glue::Table")
    _, database = _one(synth, env, "AWS::Glue::Database")
    props = table["Properties"]
    assert (
        props["DatabaseName"] == database["Properties"]["DatabaseInput"]["Name"] == f"aicore_{env}_analytics"
    )
    table_input = props["TableInput"]
    assert table_input["Name"] == "events"
    assert table_input["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    parameters = table_input["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert (parameters["projection.dt.type"], parameters["projection.dt.format"]) == ("date", "yyyy-MM-dd")
    assert parameters["projection.dt.range"].endswith(",NOW")
    location = {"Fn::Join": ["", ["s3://", {"Ref": bucket}, "/events/"]]}
    assert table_input["StorageDescriptor"]["Location"] == location
    assert parameters["storage.location.template"] == {
        "Fn::Join": ["", ["s3://", {"Ref": bucket}, "/events/dt=${dt}/"]]
    }
    columns = {c["Name"]: c["Type"] for c in table_input["StorageDescriptor"]["Columns"]}
    assert columns == {
        "id": "string",
        "detail_type": "string",
        "source": "string",
        "time": "string",
        "detail": glue_detail_type(),
    }
    serde = table_input["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    assert serde == "org.openx.data.jsonserde.JsonSerDe"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_athena_has_the_saved_queries_in_a_workgroup_with_encrypted_results(synth: Synth, env: str) -> None:
    workgroup_id, workgroup = _one(synth, env, "AWS::Athena::WorkGroup")
    configuration = workgroup["Properties"]["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["BytesScannedCutoffPerQuery"] > 0
    results = configuration["ResultConfiguration"]
    assert results["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert json.dumps(results["OutputLocation"]).endswith('"/athena-results/"]]}')
    named = {
        q["Properties"]["Name"]: q["Properties"]
        for q in synth.resources(env, "AWS::Athena::NamedQuery").values()
    }
    # The same SQL files the local runner reads
    assert {name: q["QueryString"] for name, q in named.items()} == {q.name: q.sql for q in saved_queries()}
    assert all(q["Database"] == f"aicore_{env}_analytics" for q in named.values())
    assert all(q["WorkGroup"] == {"Ref": workgroup_id} for q in named.values())
