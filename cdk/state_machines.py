"""Step Functions state machines: every `state_machines/*.asl.json`, declared in the topology.

A definition's `${PLACEHOLDERS}` are filled with `definition_substitutions`: every key of
`resource_environment` (names of tables, buckets, the bus, endpoints) and the `arn_variable` of
each function the machine `invokes` (only those: a machine started by a function it does not
invoke must not depend on it). A file without a topology entry, an entry without a file, or a
placeholder nobody fills fails the synth with a message saying which.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from aicore.topology import Topology, physical_name
from cdk.config import EnvironmentConfig
from cdk.nag import acknowledge, wildcard_resource
from cdk.retention import retention
from cdk.sources import Sources

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
ASL_SUFFIX = ".asl.json"


class StateMachineError(ValueError):
    pass


def check_definitions(topology: Topology, sources: Sources) -> None:
    declared = {str(sources.path(m.definition_path).resolve()) for m in topology.state_machines}
    on_disk = {str(p.resolve()) for p in sources.state_machines.glob(f"*{ASL_SUFFIX}")}
    if undeclared := sorted(on_disk - declared):
        raise StateMachineError(
            f"{', '.join(undeclared)}: add a StateMachine entry to the topology "
            "(what it invokes and touches) for each definition"
        )
    if missing := sorted(declared - {p for p in declared if Path(p).is_file()}):
        raise StateMachineError(
            f"the topology declares state machines without a definition file: {', '.join(missing)}"
        )


def placeholders(definition: str) -> set[str]:
    return set(PLACEHOLDER.findall(definition))


class StateMachineLogs(Construct):
    """Each state machine's log group (kept in the top-level template, like the functions' logs)."""

    def __init__(self, scope: Construct, id: str, *, topology: Topology, config: EnvironmentConfig) -> None:
        super().__init__(scope, id)
        self.by_name = {
            machine.name: logs.LogGroup(
                self,
                f"{machine.name}-logs",
                # The vendedlogs prefix keeps Step Functions off the account's log resource policy limit.
                log_group_name=f"/aws/vendedlogs/states/{physical_name(config.name, machine.name)}",
                retention=retention(config.log_retention_days),
                removal_policy=RemovalPolicy.DESTROY,
            )
            for machine in topology.state_machines
        }


class StateMachines(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topology: Topology,
        config: EnvironmentConfig,
        sources: Sources,
        names: Mapping[str, str],
        functions: Mapping[str, lambda_.IFunction],
        log_groups: Mapping[str, logs.ILogGroup],
    ) -> None:
        super().__init__(scope, id)
        check_definitions(topology, sources)
        self.by_name: dict[str, sfn.StateMachine] = {}
        arn_variables = {fn.arn_variable: fn.name for fn in (topology.authorizer, *topology.functions)}
        for machine in topology.state_machines:
            path = sources.path(machine.definition_path)
            substitutions = dict(names)
            substitutions |= {
                fn.arn_variable: functions[fn.name].function_arn
                for fn in (topology.authorizer, *topology.functions)
                if fn.name in machine.invokes
            }
            unknown = placeholders(path.read_text(encoding="utf-8")) - set(substitutions)
            if unknown:
                undeclared = sorted(arn_variables[u] for u in unknown if u in arn_variables)
                hint = f" (add {', '.join(undeclared)} to its `invokes`)" if undeclared else ""
                nobody = ", ".join(sorted(unknown))
                raise StateMachineError(
                    f"{machine.definition_path} uses placeholders nobody fills: {nobody}{hint}"
                )
            name = physical_name(config.name, machine.name)
            log_group = log_groups[machine.name]
            state_machine = sfn.StateMachine(
                self,
                machine.name,
                state_machine_name=name,
                comment=machine.description,
                definition_body=sfn.DefinitionBody.from_file(str(path)),
                definition_substitutions=substitutions,
                state_machine_type=sfn.StateMachineType.EXPRESS
                if machine.express
                else sfn.StateMachineType.STANDARD,
                logs=sfn.LogOptions(
                    destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
                ),
                tracing_enabled=True,
            )
            self.by_name[machine.name] = state_machine
        if topology.state_machines:
            acknowledge(
                self,
                wildcard_resource("*"),
                "Step Functions log delivery (logs:*LogDelivery*, DescribeResourcePolicies) "
                "and X-Ray tracing "
                "take no resource-level permissions.",
            )
