"""Starting Step Functions executions: the state machines of the topology, by name, each run once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel


class FlowStarted(BaseModel):
    execution_arn: str
    started: bool  # False: an execution of that name already existed (started by someone else)


class FlowStarter(Protocol):
    def start(self, machine: str, name: str, payload: Mapping[str, Any]) -> FlowStarted:
        """Start the state machine `machine` (topology name) as an execution named `name`, once."""
        ...


def execution_arn(state_machine_arn: str, name: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"
