"""Custom metrics carry the environment: two environments in one account never mix on a graph or
an alarm (cdk/monitoring.py reads them with the same dimensions and names from aicore.topology)."""

from __future__ import annotations

import json

import pytest

from aicore.llm.router import Completion
from aicore.npc.turn import _record_metrics
from aicore.topology import (
    ENVIRONMENT_DIMENSION,
    FALLBACK_METRIC,
    FIRST_TOKEN_METRIC,
    SERVICE,
    TIER_DIMENSION,
    TOKENS_PER_SECOND_METRIC,
)


def test_a_turns_metrics_carry_environment_service_and_tier(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a function of the staging environment, and a turn that silver answered after gold failed
    monkeypatch.setenv("ENVIRONMENT", "staging")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    completion = Completion(
        text="Aye.", tier="silver", fallback=True, first_token_ms=120.0, total_ms=900.0, tokens=12
    )

    # When the turn records its metrics
    _record_metrics(completion)

    # Then one EMF record, in the service's namespace, says which environment and tier
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == SERVICE
    assert sorted(directive["Dimensions"][0]) == sorted(["service", ENVIRONMENT_DIMENSION, TIER_DIMENSION])
    assert (record["service"], record[ENVIRONMENT_DIMENSION], record[TIER_DIMENSION]) == (
        SERVICE,
        "staging",
        "silver",
    )
    assert {m["Name"] for m in directive["Metrics"]} == {
        FIRST_TOKEN_METRIC,
        TOKENS_PER_SECOND_METRIC,
        FALLBACK_METRIC,
    }
    assert record[FALLBACK_METRIC] == [1.0]
