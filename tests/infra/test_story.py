"""The storyteller's Lambda may do what a director does and nothing more: the world table (arcs'
progress, outbox, the beats' fact changes), the bus, the gold and silver endpoints, its own DLQ."""

from __future__ import annotations

import pytest

from aicore.topology import physical_name
from tests.infra.conftest import ENVIRONMENTS, Synth
from tests.infra.policies import function_role, grants


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_storyteller_touches_the_world_the_bus_and_two_tiers_only(synth: Synth, env: str) -> None:
    template = synth.templates[env]
    allowed = grants(template, function_role(template, physical_name(env, "storyteller")))
    targets = {target for _, target in allowed}
    assert {"table:world", "bus", "endpoint:gold", "endpoint:silver"} <= targets
    assert ("dynamodb:PutItem", "table:world") in allowed
    assert ("events:PutEvents", "bus") in allowed
    # Never a client's connection, another table, a bucket, the embed tier or a state machine
    assert not {t for t in targets if t.startswith(("table:", "table-index:"))} - {"table:world"}
    assert not [t for t in targets if t.startswith(("bucket", "state-machine", "secret", "parameter"))]
    assert "connections" not in targets
    assert "endpoint:embed" not in targets
