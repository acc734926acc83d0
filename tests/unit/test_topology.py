"""The topology's integrity: checked here, on every test run, not only when CDK synthesizes."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from aicore.topology import (
    SESSIONS,
    TOPOLOGY,
    Access,
    Bucket,
    Function,
    HttpRoute,
    ModelTier,
    Secret,
    StateMachine,
    Table,
    resource_environment,
)

ROOT = Path(__file__).resolve().parents[2]


def test_the_topology_is_consistent() -> None:
    assert TOPOLOGY.problems() == []
    TOPOLOGY.check()


@pytest.mark.parametrize("fn", TOPOLOGY.all_functions, ids=lambda f: f.name)
def test_every_handler_exists_where_the_topology_says(fn: Function) -> None:
    module = ROOT / fn.module_path
    assert module.is_file(), f"{fn.name}: no {fn.module_path}"
    defined = {node.name for node in ast.parse(module.read_text()).body if isinstance(node, ast.FunctionDef)}
    assert fn.function_name in defined, f"{fn.name}: {fn.module_path} defines no {fn.function_name}()"


@pytest.mark.parametrize("machine", TOPOLOGY.state_machines, ids=lambda m: m.name)
def test_every_state_machine_has_its_definition(machine: StateMachine) -> None:
    assert (ROOT / machine.definition_path).is_file()


def _with_function(fn: Function) -> list[str]:
    return dataclasses.replace(TOPOLOGY, functions=(*TOPOLOGY.functions, fn)).problems()


def _stray(**fields: object) -> Function:
    return Function(name="stray", description="A test function.", code="functions/npc_memory", **fields)  # type: ignore[arg-type]


def test_resources_that_are_not_in_the_topology_are_reported() -> None:
    problems = _with_function(
        _stray(
            tables=((Table("sesions", "a typo"), Access.READ),),
            buckets=((Bucket("archiv", "a typo"), Access.READ),),
            model_tiers=(ModelTier("platinum"),),
            manages_model_tiers=(ModelTier("platinum"),),
        )
    )
    assert problems == [
        "stray: table 'sesions' is not in the topology",
        "stray: bucket 'archiv' is not in the topology",
        "stray: model tier 'platinum' is not in the topology",
        "stray: model tier 'platinum' is not in the topology",
    ]


def test_names_and_routes_used_twice_are_reported() -> None:
    npc_say = TOPOLOGY.function("npc-say")
    twin = dataclasses.replace(npc_say, name="npc-say-twin")
    problems = _with_function(twin) + _with_function(
        _stray(http_routes=(HttpRoute("GET", "/sessions/{id}"),))
    )
    assert "WebSocket route 'npc.say' is declared twice" in problems
    assert "HTTP route 'GET /sessions/{id}' is declared twice" in problems
    assert _with_function(dataclasses.replace(npc_say)) == [
        "function 'npc-say' is declared twice",
        "WebSocket route 'npc.listen' is declared twice",
        "WebSocket route 'npc.say' is declared twice",
        "WebSocket route 'session.scene' is declared twice",
    ]


def test_unknown_machines_functions_and_cycles_are_reported() -> None:
    loop = StateMachine(name="loop", description="Invokes its own starter.", invokes=("stray", "ghost"))
    starter = _stray(starts_state_machines=(loop,), tables=((SESSIONS, Access.READ),))
    with_machine = dataclasses.replace(
        TOPOLOGY, functions=(*TOPOLOGY.functions, starter), state_machines=(*TOPOLOGY.state_machines, loop)
    )
    assert with_machine.problems() == [
        "stray both starts and is invoked by loop: a dependency cycle",
        "loop: no function 'ghost'",
    ]
    assert _with_function(starter) == ["stray: state machine 'loop' is not in the topology"]
    with pytest.raises(ValueError, match="dependency cycle"):
        with_machine.check()


def test_a_secret_that_is_not_in_the_topology_is_reported() -> None:
    typo = Secret("payment-webhook-secret", "a typo", env_var="PAYMENTS_WEBHOOK_SECRET")
    assert _with_function(_stray(secrets=(typo,))) == [
        "stray: secret 'payment-webhook-secret' is not in the topology"
    ]
    assert resource_environment("dev")["PAYMENTS_WEBHOOK_SECRET"] == "aicore-dev-payments-webhook-secret"
