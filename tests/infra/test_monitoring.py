"""The dashboard and the alarms: tiers, functions, DLQs, WebSocket connections, to one topic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aicore.llm.endpoints_config import load_endpoints
from aicore.topology import FIRST_TOKEN_METRIC, Topology, physical_name
from cdk.sources import Sources
from tests.infra.conftest import ENVIRONMENTS, FIXTURE, Synth

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
        first_token = f'\\"{FIRST_TOKEN_METRIC}\\",\\"service\\",\\"aicore\\",\\"tier\\",\\"{tier.name}\\"'
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
    first_token = {v for v in dimension_values(FIRST_TOKEN_METRIC) if v != "aicore"}
    assert first_token == generating(topology)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_alarm_topic_is_encrypted_with_a_rotating_key_cloudwatch_may_use(synth: Synth, env: str) -> None:
    (topic,) = synth.resources(env, "AWS::SNS::Topic").values()
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = synth.resource(env, key_id)["Properties"]
    assert key["EnableKeyRotation"] is True
    principals = [s["Principal"] for s in key["KeyPolicy"]["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals
