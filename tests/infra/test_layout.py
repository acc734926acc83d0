"""How each environment is split into templates: what stays in the top-level template, under
which logical IDs, and how full every template is.

CloudFormation allows 500 resources, 200 parameters, 200 outputs and 1 MB per template. A
resource whose logical ID changes, or that moves to another template, is a new resource: the
old one is deleted. Tables, buckets, the signing keys, the bus, the logs, the dead-letter queues,
the alarm topic, the APIs and the model endpoints therefore stay where they are, under the IDs
they had when the whole environment was one template.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from aicore.topology import physical_name
from tests.infra.assembly import NESTED_STACK, StackTemplate
from tests.infra.conftest import GROWTH, STAGES, SUMMARY, Synth

# Per template, and what CloudFormation allows: room for the growth stage and beyond.
BUDGET = {
    "resources": (400, 500),
    "parameters": (150, 200),
    "outputs": (150, 200),
    "bytes": (800_000, 1_048_576),
}
NESTED = {"compute", "apiroutes", "eventtriggers", "alarms"}

# The logical IDs these resources have had since the first deploy, the same in every environment.
# A refactor that changes one replaces the resource (tables and buckets: their data is gone, or
# retained and orphaned). A new table or bucket is added here in the change that adds it.
PINNED: dict[str, dict[str, str]] = {
    "AWS::DynamoDB::Table": {
        "dataconnectionstable14F4B2F4": "connections",
        "dataidentitytable2FEE3590": "identity",
        "datamindtable939FC1E4": "mind",
        "datamodelstable7C6F1D42": "models",
        "datasessionstable234A567D": "sessions",
        "datasettingstable2DAAAF73": "settings",
        "dataworldtable164E1CD1": "world",
    },
    "AWS::S3::Bucket": {
        "dataaccesslogsA0DEB78C": "access-logs",
        "dataanalyticsbucket0FF900E9": "analytics",
        "dataarchivebucketC3602932": "archive",
        "dataknowledgebucket98A51775": "knowledge",
        "datamodelsbucket7AD915E5": "models",
        "dataqareportsbucket786BA49C": "qa-reports",
    },
    "AWS::SecretsManager::Secret": {
        "signingkeysDF6B2B94": "signing-keys",
        "paymentswebhooksecret4E7185EA": "payments-webhook-secret",
    },
    "AWS::Events::EventBus": {"eventsbusD36CCD54": "events"},
    "AWS::Events::Archive": {"eventsarchiveArchive8F26F9F2": "events-archive"},
    "AWS::KMS::Key": {"monitoringalarmskey618241EF": "alarms topic key"},
    "AWS::SNS::Topic": {"monitoringalarms9751FF5B": "alarms"},
    # Their ids are in the URLs game clients and studio tools hold.
    "AWS::ApiGatewayV2::Api": {"realtimeapi6E5778BC": "realtime", "httpapiB8F01800": "http"},
    "AWS::ApiGatewayV2::Stage": {"realtimestage15EFF622": "realtime", "httpstage3A890CCB": "http"},
}
# Kinds that only the top-level template may hold (their logical IDs follow their topology names).
KEPT = {
    *PINNED,
    "AWS::Logs::LogGroup",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
    "AWS::SageMaker::Endpoint",
    "AWS::SageMaker::EndpointConfig",
    "AWS::SageMaker::InferenceComponent",
    "AWS::SageMaker::Model",
}


def _ids(name: str) -> str:
    """A topology name as it appears in a logical ID."""
    return re.sub(r"[^A-Za-z0-9]", "", name)


def _templates(synth: Synth) -> Iterator[tuple[str, StackTemplate]]:
    for env in STAGES:
        for template in synth.stacks[env].walk():
            yield env, template


def _measure(template: StackTemplate) -> dict[str, int]:
    return {
        "resources": len(template.resources),
        "parameters": len(template.parameters),
        "outputs": len(template.outputs),
        "bytes": template.path.stat().st_size,
    }


def test_every_template_of_every_stage_stays_within_its_budget(synth: Synth, record_property: Any) -> None:
    # Given every stage, the growth stage (prod's config, 20 more functions) included
    rows = [f"{'stage':<10}{'template':<16}" + "".join(f"{k:>12}" for k in BUDGET)]
    over = []
    for env, template in _templates(synth):
        measured = _measure(template)
        rows.append(f"{env:<10}{template.name:<16}" + "".join(f"{measured[k]:>12}" for k in BUDGET))
        record_property(f"{env}/{template.name}", measured)
        over += [
            f"{env}/{template.name}: {measured[k]} {k} (budget {budget}, CloudFormation's limit {limit})"
            for k, (budget, limit) in BUDGET.items()
            if measured[k] > budget
        ]
    SUMMARY[:] = rows  # printed at the end of the session
    # Then each template is under the budget, well under CloudFormation's limits
    assert over == [], "split the template that grew (cdk/stack.py): " + "; ".join(over)


@pytest.mark.parametrize("env", STAGES)
def test_an_environment_is_one_top_level_template_and_its_nested_stacks(synth: Synth, env: str) -> None:
    top = synth.stacks[env]
    assert top.name == f"aicore-{env}"
    assert {t.name for t in top.children.values()} == NESTED
    assert all(not child.children for child in top.children.values())
    nested_stacks = [r for r in top.resources.values() if r["Type"] == NESTED_STACK]
    assert len(nested_stacks) == len(NESTED)


@pytest.mark.parametrize("env", STAGES)
def test_stateful_resources_keep_their_logical_ids_in_the_top_level_template(synth: Synth, env: str) -> None:
    top = synth.stacks[env].resources
    for kind, pinned in PINNED.items():
        found = {logical for logical, r in top.items() if r["Type"] == kind}
        assert found == set(pinned), (
            f"{kind}: logical IDs {sorted(found - set(pinned))} are new (pin them here) and "
            f"{sorted(set(pinned) - found)} are gone (a changed ID replaces the resource)"
        )
    tables = {logical: top[logical]["Properties"]["TableName"] for logical in PINNED["AWS::DynamoDB::Table"]}
    assert tables == {
        logical: physical_name(env, name) for logical, name in PINNED["AWS::DynamoDB::Table"].items()
    }
    for secret, name in PINNED["AWS::SecretsManager::Secret"].items():
        assert top[secret]["Properties"]["Name"] == physical_name(env, name)


@pytest.mark.parametrize("env", STAGES)
def test_logs_queues_and_endpoints_are_only_in_the_top_level_template(synth: Synth, env: str) -> None:
    for template in synth.stacks[env].walk()[1:]:
        kept = sorted({r["Type"] for r in template.resources.values()} & KEPT)
        assert kept == [], f"{template.name} holds {kept}: they belong in the top-level template"
    # Their logical IDs follow the construct paths they always had, named from the topology.
    top = synth.stacks[env].resources
    topology = synth.topologies[env]
    expected = [f"functions{_ids(f.name)}logs" for f in topology.all_functions]
    expected += [f"statemachines{_ids(m.name)}logs" for m in topology.state_machines]
    expected += [f"triggers{_ids(f.name)}dlq" for f in topology.functions if f.events or f.schedules]
    expected += [f"{_ids(t.name)}tier{part}" for t in topology.model_tiers for part in ("logs", "endpoint")]
    for prefix in expected:
        assert [k for k in top if re.fullmatch(prefix + "[0-9A-F]{8}", k)], (
            f"no {prefix}<hash> in aicore-{env}"
        )


@pytest.mark.parametrize("env", STAGES)
def test_every_function_logs_to_its_group_in_the_top_level_template(synth: Synth, env: str) -> None:
    groups = {
        r["Properties"]["LogGroupName"]
        for r in synth.stacks[env].resources.values()
        if r["Type"] == "AWS::Logs::LogGroup" and "LogGroupName" in r["Properties"]
    }
    for function in synth.functions(env).values():
        name = function["Properties"]["FunctionName"]
        assert function["Properties"]["LoggingConfig"]["LogGroup"] == f"/aws/lambda/{name}"
        assert f"/aws/lambda/{name}" in groups, name


@pytest.mark.parametrize("env", STAGES)
def test_each_api_stage_deploys_after_the_routes(synth: Synth, env: str) -> None:
    top = synth.stacks[env]
    (routes,) = [logical for logical, child in top.children.items() if child.name == "apiroutes"]
    stages = [r for r in top.resources.values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    assert len(stages) == 2
    for stage in stages:
        assert routes in stage["DependsOn"]


def test_the_growth_stage_holds_what_is_planned(synth: Synth) -> None:
    functions = synth.topologies[GROWTH].all_functions
    assert len(functions) == len(synth.topologies["prod"].all_functions) + 20
    assert synth.configs[GROWTH].lambda_.deployment == synth.configs["prod"].lambda_.deployment
    assert len(synth.functions(GROWTH)) == len(functions)
