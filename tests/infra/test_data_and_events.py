"""Tables, the archive bucket, the bus and its archive, rules, schedules and state machines."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from aicore.topology import physical_name
from tests.infra.conftest import ARCHIVE_ASL, ENVIRONMENTS, FIXTURE, PROD_PIN, Synth

KIB = 1024


def live_alias_of(synth: Synth, env: str, reference: Any) -> str:
    """The function whose `live` alias `reference` (a Ref) names."""
    alias = synth.resource(env, reference["Ref"])
    assert alias["Type"] == "AWS::Lambda::Alias", reference
    assert alias["Properties"]["Name"] == "live"
    name: str = synth.resource(env, alias["Properties"]["FunctionName"]["Ref"])["Properties"]["FunctionName"]
    return name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_tables_are_on_demand_recoverable_and_protected_in_prod(synth: Synth, env: str) -> None:
    protected = synth.configs[env].deletion_protection
    assert protected == (env == "prod")
    tables = {r["Properties"]["TableName"]: r for r in synth.resources(env, "AWS::DynamoDB::Table").values()}
    for table in synth.topologies[env].tables:
        resource = tables[physical_name(env, table.name)]
        props = resource["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["DeletionProtectionEnabled"] is protected
        assert resource["DeletionPolicy"] == ("Retain" if protected else "Delete")
        keys = {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]}
        assert keys == {table.partition_key: "HASH", **({table.sort_key: "RANGE"} if table.sort_key else {})}
        if table.ttl_attribute:
            assert props["TimeToLiveSpecification"] == {"AttributeName": table.ttl_attribute, "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in props


def _bucket(synth: Synth, env: str, name: str = "archive") -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, r)
        for k, r in synth.resources(env, "AWS::S3::Bucket").items()
        if k.startswith(f"data{name}bucket")
    ]
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_archive_bucket_is_private_encrypted_tls_only_and_cools_down(synth: Synth, env: str) -> None:
    lifecycle = synth.configs[env].archive
    logical, bucket = _bucket(synth, env)
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "LoggingConfiguration" in props
    assert bucket["DeletionPolicy"] == "Retain"
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert all(r["Status"] == "Enabled" for r in rules.values())
    assert rules["housekeeping"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": lifecycle.noncurrent_expire_after_days
    }
    assert rules["housekeeping"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    # S3 moves nothing under 128 KiB unless a rule names the sizes: each rule does.
    large, small = rules["cold-large"], rules["cold-small"]
    assert large["ObjectSizeGreaterThan"] == 128 * KIB - 1
    assert large["Transitions"] == [
        {"StorageClass": "STANDARD_IA", "TransitionInDays": lifecycle.infrequent_access_after_days},
        {"StorageClass": "GLACIER_IR", "TransitionInDays": lifecycle.glacier_ir_after_days},
    ]
    # Small archives skip Standard-IA (billed as 128 KiB, dearer than Standard for them).
    assert (small["ObjectSizeGreaterThan"], small["ObjectSizeLessThan"]) == (
        lifecycle.small_objects_min_bytes,
        128 * KIB,
    )
    assert small["Transitions"] == [
        {"StorageClass": "GLACIER_IR", "TransitionInDays": lifecycle.glacier_ir_after_days}
    ]
    assert 0 < lifecycle.small_objects_min_bytes < 128 * KIB
    # TLS only: the bucket policy denies any request without SecureTransport.
    (policy,) = [
        p
        for p in synth.resources(env, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": logical}
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_model_weights_stay_in_standard_and_half_uploads_go(synth: Synth, env: str) -> None:
    # Weights are read at every instance start: a colder class would bill a retrieval each time.
    _, bucket = _bucket(synth, env, "models")
    props = bucket["Properties"]
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert "Transitions" not in rule
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert props["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert bucket["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_bus_keeps_an_archive_for_replay(synth: Synth, env: str) -> None:
    template = Template.from_json(synth.templates[env])
    bus_name = physical_name(env, synth.topologies[env].bus.name)
    template.has_resource_properties("AWS::Events::EventBus", {"Name": bus_name})
    template.has_resource_properties(
        "AWS::Events::Archive",
        {
            "ArchiveName": physical_name(env, "events-archive"),
            "RetentionDays": synth.configs[env].events.archive_retention_days,
            # prod is pinned to its account; the others learn it at deploy time.
            "EventPattern": {
                "account": [PROD_PIN["account"] if env == "prod" else {"Ref": "AWS::AccountId"}]
            },
        },
    )


@pytest.mark.parametrize("env", [*ENVIRONMENTS, FIXTURE])
def test_each_rule_targets_its_function_with_retries_and_a_dead_letter_queue(synth: Synth, env: str) -> None:
    events = synth.configs[env].events
    rules = {
        r["Properties"]["Name"]: r["Properties"] for r in synth.resources(env, "AWS::Events::Rule").values()
    }
    declared = [(rule, fn) for fn in synth.topologies[env].functions for rule in fn.events]
    stream = synth.topologies[env].analytics  # its rule targets Firehose: tests/infra/test_analytics.py
    streams = {physical_name(env, stream.name)} if stream is not None else set()
    assert set(rules) == {physical_name(env, rule.name) for rule, _ in declared} | streams
    for rule, fn in declared:
        props = rules[physical_name(env, rule.name)]
        assert props["EventPattern"] == {"source": [rule.source], "detail-type": list(rule.detail_types)}
        (target,) = props["Targets"]
        assert live_alias_of(synth, env, target["Arn"]) == physical_name(env, fn.name)
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": events.retry_attempts,
            "MaximumEventAgeInSeconds": events.max_event_age_s,
        }
        queue = synth.resource(env, target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])["Properties"]
        assert queue["QueueName"] == physical_name(env, f"{fn.name}-dlq")
        assert queue["SqsManagedSseEnabled"] is True


@pytest.mark.parametrize("env", [*ENVIRONMENTS, FIXTURE])
def test_async_failures_of_triggered_functions_land_in_their_dead_letter_queue(
    synth: Synth, env: str
) -> None:
    configs = synth.resources(env, "AWS::Lambda::EventInvokeConfig").values()
    triggered = [fn for fn in synth.topologies[env].functions if fn.events or fn.schedules]
    assert len(configs) == len(triggered)
    for config in configs:
        props = config["Properties"]
        # The alias that rules and schedules invoke: its name, cut from its ARN at deploy time.
        (index, (separator, alias_arn)) = (
            props["Qualifier"]["Fn::Select"][0],
            props["Qualifier"]["Fn::Select"][1]["Fn::Split"],
        )
        assert (index, separator) == (7, ":")
        assert synth.resource(env, alias_arn["Ref"])["Properties"]["Name"] == "live"
        assert props["MaximumRetryAttempts"] == 2
        destination = props["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        assert synth.resource(env, destination)["Type"] == "AWS::SQS::Queue"


def test_schedules_come_from_the_topology_with_retries_and_a_dead_letter_queue(synth: Synth) -> None:
    events = synth.configs[FIXTURE].events
    schedules = {
        r["Properties"]["Name"]: r["Properties"]
        for r in synth.resources(FIXTURE, "AWS::Scheduler::Schedule").values()
    }
    declared = [(s, fn) for fn in synth.topologies[FIXTURE].functions for s in fn.schedules]
    assert declared
    assert set(schedules) == {physical_name(FIXTURE, s.name) for s, _ in declared}
    for schedule, fn in declared:
        props = schedules[physical_name(FIXTURE, schedule.name)]
        assert props["ScheduleExpression"] == schedule.expression
        target = props["Target"]
        assert live_alias_of(synth, FIXTURE, target["Arn"]) == physical_name(FIXTURE, fn.name)
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": events.retry_attempts,
            "MaximumEventAgeInSeconds": events.max_event_age_s,
        }
        queue = synth.resource(FIXTURE, target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])["Properties"]
        assert queue["QueueName"] == physical_name(FIXTURE, f"{fn.name}-dlq")
        assert json.loads(target["Input"]) == {"schedule": schedule.name, "environment": FIXTURE}


def test_state_machines_are_loaded_from_asl_with_substitutions_logging_and_tracing(synth: Synth) -> None:
    template = Template.from_json(synth.templates[FIXTURE])
    for machine in synth.topologies[FIXTURE].state_machines:
        template.has_resource_properties(
            "AWS::StepFunctions::StateMachine",
            {
                "StateMachineName": physical_name(FIXTURE, machine.name),
                "StateMachineType": "EXPRESS" if machine.express else "STANDARD",
                "TracingConfiguration": {"Enabled": True},
                "LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": True}),
            },
        )
    (props,) = [
        r["Properties"]
        for r in synth.resources(FIXTURE, "AWS::StepFunctions::StateMachine").values()
        if r["Properties"].get("StateMachineName") == physical_name(FIXTURE, "archive-session")
    ]
    # The definition is the file (an asset), placeholders intact; CloudFormation fills them in.
    asset = synth.outdir / f"asset.{props['DefinitionS3Location']['Key']}"
    assert json.loads(asset.read_text(encoding="utf-8")) == ARCHIVE_ASL
    substitutions = props["DefinitionSubstitutions"]
    assert {"NPC_MEMORY_FUNCTION_ARN", "SESSIONS_TABLE", "ARCHIVE_BUCKET"} <= set(substitutions)
    # A task invokes the function's live alias (so a deployment's traffic shift covers flows too).
    alias = synth.resource(FIXTURE, substitutions["NPC_MEMORY_FUNCTION_ARN"]["Ref"])
    assert alias["Type"] == "AWS::Lambda::Alias"
    assert alias["Properties"]["Name"] == "live"
    function = synth.resource(FIXTURE, alias["Properties"]["FunctionName"]["Ref"])
    assert function["Properties"]["FunctionName"] == physical_name(FIXTURE, "npc-memory")
    table = synth.resource(FIXTURE, substitutions["SESSIONS_TABLE"]["Ref"])
    assert table["Properties"]["TableName"] == physical_name(FIXTURE, "sessions")
