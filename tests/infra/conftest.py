"""One synth per test session: dev, staging, prod, a `fixture` stage whose topology adds a
scheduled function, a state machine and a CPU model tier, and a `growth` stage (prod's config,
the topology plus 20 functions and 2 state machines), cdk-nag included.

Each environment is a top-level template and nested stacks' templates: `Synth.templates[env]`
is all of them merged, references across templates resolved (`tests/infra/assembly.py`), so a
test reads an environment's resources wherever they sit; `Synth.stacks[env]` has each template.

prod is a production environment: it synthesizes only when cdk.json pins its account and region
and names someone for its alarms. The repository leaves those to the studio (null), so the tests
pin it to a test account (PROD_PIN), as a studio's cdk.json would."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aicore.topology import (
    ARCHIVE,
    MODEL_TIER_SETUP,
    NPC_SOURCE,
    NPC_TURN_COMPLETED,
    SESSIONS,
    TOPOLOGY,
    WORLD,
    Access,
    EventRule,
    Function,
    HttpRoute,
    ModelTier,
    Schedule,
    StateMachine,
    Topology,
    physical_name,
)
from cdk.app import build_app, cdk_json_context
from cdk.config import EnvironmentConfig, load_environment
from cdk.sources import Sources
from tests.infra.assembly import StackTemplate, merged, read_assembly

ENVIRONMENTS = ("dev", "staging", "prod")
FIXTURE = "fixture"
GROWTH = "growth"  # what the templates must still hold: the functions and flows planned next
STAGES = (*ENVIRONMENTS, FIXTURE, GROWTH)
GROWTH_FUNCTIONS = 20
# Lines the session prints at its end (test_layout's resource counts per template).
SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SUMMARY:
        terminalreporter.write_sep("-", "CloudFormation templates per stage")
        for line in SUMMARY:
            terminalreporter.write_line(line)


PROD_PIN = {"account": "123456789012", "region": "eu-west-1", "email": "oncall@example.com"}


def pinned_context() -> dict[str, Any]:
    """cdk.json's context, with prod pinned the way a studio pins it."""
    context: dict[str, Any] = json.loads(json.dumps(cdk_json_context(Sources().root)))
    prod = context["aicore:environments"]["prod"]
    prod["account"], prod["region"] = PROD_PIN["account"], PROD_PIN["region"]
    prod["alarms"]["email"] = [PROD_PIN["email"]]
    return context


# Runs through a Task, a service integration and a placeholder of each kind the stack fills.
ARCHIVE_ASL = {
    "Comment": "Archive a cold session (test fixture)",
    "StartAt": "Remember",
    "States": {
        "Remember": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${NPC_MEMORY_FUNCTION_ARN}", "Payload.$": "$"},
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 2}],
            "Next": "Mark",
        },
        "Mark": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:updateItem",
            "Parameters": {
                "TableName": "${SESSIONS_TABLE}",
                "Key": {"pk": {"S.$": "$.pk"}, "sk": {"S.$": "$.sk"}},
                "UpdateExpression": "SET archived_in = :bucket",
                "ExpressionAttributeValues": {":bucket": {"S": "${ARCHIVE_BUCKET}"}},
            },
            "End": True,
        },
    },
}


def fixture_topology(asl: Path) -> Topology:
    """The real topology plus what it may not use yet: a schedule, a state machine, a CPU tier."""
    machine = StateMachine(
        name="archive-session",
        description="Archives a cold session (test fixture).",
        invokes=("npc-memory",),
        tables=((SESSIONS, Access.READ_WRITE),),
        buckets=((ARCHIVE, Access.WRITE),),
        publishes_events=True,
        definition=str(asl),
    )
    clock = Function(
        name="world-clock",
        description="Ticks the game clock (test fixture).",
        code="functions/npc_memory",
        memory_mb=256,
        schedules=(Schedule("world-tick", 5),),
        tables=((SESSIONS, Access.READ),),
        buckets=((ARCHIVE, Access.READ_WRITE),),
        starts_state_machines=(machine,),
    )
    tiers = TOPOLOGY.model_tiers
    functions = TOPOLOGY.functions
    if "embed" not in {t.name for t in tiers}:  # a CPU tier (endpoints/embed.json), scaled like the others
        embed = ModelTier("embed")
        tiers = (*tiers, embed)
        functions = tuple(
            dataclasses.replace(f, serving_records=(*f.serving_records, (embed, Access.READ_WRITE)))
            if f.name == MODEL_TIER_SETUP
            else f
            for f in functions
        )
    return dataclasses.replace(
        TOPOLOGY,
        functions=(*functions, clock),
        state_machines=(*TOPOLOGY.state_machines, machine),
        model_tiers=tiers,
    )


def growth_asl(function: Function) -> dict[str, Any]:
    """A flow of one Lambda task (a quest's progress, a storyteller's arc)."""
    return {
        "StartAt": "Step",
        "States": {
            "Step": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "${" + function.arn_variable + "}", "Payload.$": "$"},
                "End": True,
            }
        },
    }


def growth_topology(work: Path) -> Topology:
    """The topology plus what is planned next (a living world: clock, weather, facts, pushes;
    storyteller and quests; settings, limits, payments), shaped more busily than today's average
    function: each has two HTTP routes; every second a WebSocket route and pushes to clients,
    every third an event rule and a gradual deployment, every fourth a schedule; two flows."""
    functions = []
    for i in range(GROWTH_FUNCTIONS):
        name = f"growth-{i:02d}"
        functions.append(
            Function(
                name=name,
                description=f"A planned function (growth fixture {i}).",
                code="functions/npc_memory",
                http_routes=(HttpRoute("GET", f"/growth/{i}"), HttpRoute("POST", f"/growth/{i}/items")),
                websocket_routes=(f"growth.{i}",) if i % 2 == 0 else (),
                pushes_to_clients=i % 2 == 0,
                events=(EventRule(f"{name}-turns", NPC_SOURCE, (NPC_TURN_COMPLETED,)),) if i % 3 == 0 else (),
                schedules=(Schedule(f"{name}-tick", 5),) if i % 4 == 0 else (),
                tables=((WORLD, Access.READ_WRITE), (SESSIONS, Access.READ)),
                buckets=((ARCHIVE, Access.READ),),
                publishes_events=True,
                gradual_deployment=i % 3 == 0,
            )
        )
    machines = []
    for i, function in enumerate(functions[:2]):
        asl = work / f"growth-flow-{i}.asl.json"
        asl.write_text(json.dumps(growth_asl(function)), encoding="utf-8")
        machines.append(
            StateMachine(
                name=f"growth-flow-{i}",
                description=f"A planned flow (growth fixture {i}).",
                invokes=(function.name,),
                tables=((WORLD, Access.READ_WRITE),),
                definition=str(asl),
            )
        )
    starter = dataclasses.replace(functions[-1], starts_state_machines=tuple(machines))
    return dataclasses.replace(
        TOPOLOGY,
        functions=(*TOPOLOGY.functions, *functions[:-1], starter),
        state_machines=(*TOPOLOGY.state_machines, *machines),
    )


STAND_IN_HANDLER = "def handler(event, context):\n    raise NotImplementedError('stand-in for synth tests')\n"
STAND_IN_ASL = {"StartAt": "StandIn", "States": {"StandIn": {"Type": "Pass", "End": True}}}


def write_stand_ins(topology: Topology, root: Path, stand_ins: Path) -> list[str]:
    """Stand-ins for handler folders and ASL files the topology declares but the tree lacks yet."""
    written = []
    for fn in (topology.authorizer, *topology.functions):
        if not (root / fn.module_path).exists():
            (stand_ins / fn.module_path).parent.mkdir(parents=True, exist_ok=True)
            (stand_ins / fn.module_path).write_text(STAND_IN_HANDLER, encoding="utf-8")
            written.append(fn.module_path)
    for machine in topology.state_machines:
        if not (root / machine.definition_path).exists():
            (stand_ins / machine.definition_path).parent.mkdir(parents=True, exist_ok=True)
            (stand_ins / machine.definition_path).write_text(json.dumps(STAND_IN_ASL), encoding="utf-8")
            written.append(machine.definition_path)
    return written


@dataclass
class Synth:
    outdir: Path
    seconds: float
    validation_error: str | None
    topologies: dict[str, Topology]
    configs: dict[str, EnvironmentConfig]
    stand_ins: list[str]
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)  # merged: every template's resources
    stacks: dict[str, StackTemplate] = field(default_factory=dict)  # the top-level template, nesting the rest
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    template_files: dict[str, list[Path]] = field(default_factory=dict)

    def resources(self, env: str, kind: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.templates[env]["Resources"].items() if r["Type"] == kind}

    def resource(self, env: str, logical_id: str) -> dict[str, Any]:
        resource: dict[str, Any] = self.templates[env]["Resources"][logical_id]
        return resource

    def functions(self, env: str) -> dict[str, dict[str, Any]]:
        """Our Lambdas (the topology's), by logical id: not CDK's custom resource framework's."""
        topology = self.topologies[env]
        ours = {physical_name(env, f.name) for f in (topology.authorizer, *topology.functions)}
        return {
            k: r
            for k, r in self.resources(env, "AWS::Lambda::Function").items()
            if r["Properties"].get("FunctionName") in ours
        }


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    work = tmp_path_factory.mktemp("infra")
    asl = work / "archive-session.asl.json"
    asl.write_text(json.dumps(ARCHIVE_ASL, indent=2), encoding="utf-8")
    outdir = work / "cdk.out"
    context = {**pinned_context(), "env": ",".join(ENVIRONMENTS)}
    environ: dict[str, str] = {}  # no AWS variables: the fallback region, an unknown account
    extra = fixture_topology(asl)
    growth = growth_topology(work)
    sources = Sources(stand_ins=work / "stand-ins")
    stand_ins = write_stand_ins(extra, sources.root, work / "stand-ins")
    stand_ins += write_stand_ins(growth, sources.root, work / "stand-ins")

    started = time.perf_counter()
    app = build_app(
        context=context,
        environ=environ,
        outdir=str(outdir),
        sources=sources,
        extra_stages={FIXTURE: ("dev", extra), GROWTH: ("prod", growth)},
    )
    error: str | None = None
    try:
        app.synth()
    except RuntimeError as failure:  # cdk-nag findings fail the synth (the assembly is still written)
        error = str(failure)
    seconds = time.perf_counter() - started

    configs = {env: load_environment(env, context, environ) for env in ENVIRONMENTS}
    configs[FIXTURE] = configs["dev"].model_copy(update={"name": FIXTURE})
    configs[GROWTH] = configs["prod"].model_copy(update={"name": GROWTH})
    result = Synth(
        outdir=outdir,
        seconds=seconds,
        validation_error=error,
        topologies={**dict.fromkeys(ENVIRONMENTS, TOPOLOGY), FIXTURE: extra, GROWTH: growth},
        configs=configs,
        stand_ins=stand_ins,
    )
    for env in STAGES:
        assembly = outdir / f"assembly-aicore-{env}"
        (metadata,) = assembly.glob("*.metadata.json")
        result.stacks[env] = read_assembly(assembly, f"aicore-{env}")
        result.template_files[env] = [t.path for t in result.stacks[env].walk()]
        result.templates[env] = merged(result.stacks[env])
        result.metadata[env] = json.loads(metadata.read_text(encoding="utf-8"))
    print(f"\nsynth of {len(result.templates)} stages with cdk-nag: {seconds:.1f} s")
    return result
