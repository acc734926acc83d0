"""The dashboard and the alarms: tiers, functions, DLQs, WebSocket connections, to one topic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aicore.llm.endpoints_config import load_endpoints
from aicore.llm.tiers import SCRIPTED
from aicore.topology import (
    ENVIRONMENT_DIMENSION,
    FALLBACK_METRIC,
    FIRST_TOKEN_METRIC,
    Topology,
    physical_name,
)
from cdk.sources import Sources
from tests.infra.conftest import ENVIRONMENTS, FIXTURE, PROD_PIN, Synth

ENDPOINTS = load_endpoints(Sources().endpoints)


def generating(topology: Topology) -> set[str]:
    """Tiers that stream tokens, so have a first-token budget (not the embedding tier)."""
    return {t.name for t in topology.model_tiers if ENDPOINTS[t.name].engine.engine != "tei"}


def _dashboard(synth: Synth, env: str) -> str:
    (dashboard,) = synth.resources(env, "AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == physical_name(env, "dashboard")
    return json.dumps(dashboard["Properties"]["DashboardBody"])


@pytest.mark.parametrize("env", [*ENVIRONMENTS, FIXTURE])
def test_dashboard_shows_tiers_functions_queues_and_connections(synth: Synth, env: str) -> None:
    body = _dashboard(synth, env)
    topology = synth.topologies[env]
    for tier in topology.model_tiers:
        # CloudWatch orders a metric's dimensions by name: environment, service, tier.
        first_token = (
            f'\\"{FIRST_TOKEN_METRIC}\\",\\"{ENVIRONMENT_DIMENSION}\\",\\"{env}\\",'
            f'\\"service\\",\\"aicore\\",\\"tier\\",\\"{tier.name}\\"'
        )
        assert (first_token in body) == (tier.name in generating(topology)), tier.name
        assert f'\\"InferenceComponentName\\",\\"{physical_name(env, tier.name)}\\"' in body
    for title in ("Lambda errors", "Lambda duration p99", "Dead-letter queue depth", "WebSocket connections"):
        assert title in body
    assert "ConnectCount" in body
    for fn in (topology.authorizer, *topology.functions):
        assert f'\\"label\\":\\"{fn.name}\\"' in body, fn.name


@pytest.mark.parametrize("env", [*ENVIRONMENTS, FIXTURE])
def test_alarms_cover_every_function_queue_and_tier_and_notify_the_topic(synth: Synth, env: str) -> None:
    (topic_id,) = synth.resources(env, "AWS::SNS::Topic")
    alarms = [a["Properties"] for a in synth.resources(env, "AWS::CloudWatch::Alarm").values()]
    notifying = [a for a in alarms if a.get("AlarmActions") == [{"Ref": topic_id}]]
    topology = synth.topologies[env]

    def dimension_values(metric: str) -> list[Any]:
        return [d["Value"] for a in notifying if a.get("MetricName") == metric for d in a["Dimensions"]]

    functions = {f.name for f in (topology.authorizer, *topology.functions)}
    error_alarms = [a for a in notifying if a.get("MetricName") == "Errors"]
    assert len(error_alarms) == len(functions)
    assert all(a["Threshold"] == synth.configs[env].alarms.lambda_errors_per_5_min for a in error_alarms)
    triggered = {f.name for f in topology.functions if f.events or f.schedules}
    queues = [
        synth.resource(env, q["Fn::GetAtt"][0])
        for q in dimension_values("ApproximateNumberOfMessagesVisible")
    ]
    assert {q["Properties"]["QueueName"] for q in queues} == {
        physical_name(env, f"{n}-dlq") for n in triggered
    }
    tiers = {physical_name(env, t.name) for t in topology.model_tiers}
    assert set(dimension_values("Invocation5XXErrors")) == tiers
    first_token = {v for v in dimension_values(FIRST_TOKEN_METRIC) if v not in ("aicore", env)}
    assert first_token == generating(topology)
    throttles = [a for a in notifying if a.get("MetricName") == "Throttles"]
    assert len(throttles) == len(functions)
    assert all(a["Threshold"] == synth.configs[env].alarms.throttles_per_5_min for a in throttles)


@pytest.mark.parametrize("env", [*ENVIRONMENTS, FIXTURE])
def test_a_gold_outage_hidden_behind_silver_still_alarms(synth: Synth, env: str) -> None:
    # Given the NPC turn's Fallbacks metric, counted under the tier that answered a fallen-back turn
    alarms = [a["Properties"] for a in synth.resources(env, "AWS::CloudWatch::Alarm").values()]
    fallbacks = {
        next(d["Value"] for d in a["Dimensions"] if d["Name"] == "tier"): a
        for a in alarms
        if a.get("MetricName") == FALLBACK_METRIC
    }
    # Then silver (gold failed) and the scripted line (every tier failed) alarm, in this environment
    assert set(fallbacks) == generating(synth.topologies[env]) | {SCRIPTED}
    for alarm in fallbacks.values():
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
            "service": "aicore",
            ENVIRONMENT_DIMENSION: env,
            "tier": alarm["Dimensions"][-1]["Value"],
        }
        assert alarm["Statistic"] == "Sum"
        assert alarm["Threshold"] == synth.configs[env].alarms.fallbacks_per_5_min
        assert alarm["AlarmActions"]


@pytest.mark.parametrize("env", [*ENVIRONMENTS, FIXTURE])
def test_failed_flows_throttled_tables_and_websocket_errors_alarm(synth: Synth, env: str) -> None:
    alarms = [a["Properties"] for a in synth.resources(env, "AWS::CloudWatch::Alarm").values()]
    # Every state machine: failed, timed out and aborted executions.
    machines = {
        synth.resource(env, d["Value"]["Ref"])["Properties"]["StateMachineName"]
        for a in alarms
        if a.get("Namespace") == "AWS/States"
        for d in a["Dimensions"]
    }
    assert machines == {physical_name(env, m.name) for m in synth.topologies[env].state_machines}
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"):
        assert sum(a.get("MetricName") == metric for a in alarms) == len(machines), metric
    # Every table: read and write throttles together.
    throttled = [
        a for a in alarms if any(m.get("Expression") == "reads + writes" for m in a.get("Metrics", []))
    ]
    tables = {
        synth.resource(env, m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"])["Properties"][
            "TableName"
        ]
        for a in throttled
        for m in a["Metrics"]
        if "MetricStat" in m
    }
    assert tables == {physical_name(env, t.name) for t in synth.topologies[env].tables}
    # The WebSocket stage: errors calling our functions.
    websocket = {
        a["MetricName"]
        for a in alarms
        if a.get("Namespace") == "AWS/ApiGateway" and a.get("MetricName") != "5xx"
    }
    assert {"ExecutionError", "IntegrationError"} <= websocket


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_environment_says_who_hears_its_alarms(synth: Synth, env: str) -> None:
    subscriptions = [s["Properties"] for s in synth.resources(env, "AWS::SNS::Subscription").values()]
    config = synth.configs[env].alarms
    assert sorted(s["Endpoint"] for s in subscriptions if s["Protocol"] == "email") == sorted(config.email)
    if env == "prod":
        assert [s["Endpoint"] for s in subscriptions] == [PROD_PIN["email"]]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_alarm_topic_is_encrypted_with_a_rotating_key_cloudwatch_may_use(synth: Synth, env: str) -> None:
    (topic,) = synth.resources(env, "AWS::SNS::Topic").values()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = synth.resource(env, key_id)["Properties"]
    assert key["EnableKeyRotation"] is True
    principals = [s["Principal"] for s in key["KeyPolicy"]["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals
