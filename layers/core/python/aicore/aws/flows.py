"""Starting Step Functions executions (`states:StartExecution`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError

from aicore import aws
from aicore.flows import FlowStarted, execution_arn


class StepFunctionsStarter:
    """`FlowStarter` over `states:StartExecution`; `arns` maps topology names to state machine ARNs.

    Execution names make starts idempotent: a second start of the same name reports the first.
    """

    def __init__(self, arns: Mapping[str, str | None]) -> None:
        self._arns = arns

    @cached_property
    def _client(self) -> Any:
        return aws.stepfunctions_client()

    def start(self, machine: str, name: str, payload: Mapping[str, Any]) -> FlowStarted:
        arn = self._arns.get(machine)
        if not arn:
            raise RuntimeError(f"no ARN for state machine {machine!r}: the function does not declare it")
        try:
            started = self._client.start_execution(stateMachineArn=arn, name=name, input=json.dumps(payload))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
                raise
            return FlowStarted(execution_arn=execution_arn(arn, name), started=False)
        return FlowStarted(execution_arn=started["executionArn"], started=True)


class StepFunctionsWatcher:
    """`FlowWatcher` over `states:DescribeExecution`."""

    @cached_property
    def _client(self) -> Any:
        return aws.stepfunctions_client()

    def status(self, execution_arn: str) -> tuple[str, str | None]:
        described = self._client.describe_execution(executionArn=execution_arn)
        cause = described.get("cause") or described.get("error")
        return str(described["status"]), str(cause) if cause else None


class StepFunctionsSignals:
    """`FlowSignals` over `states:SendTaskSuccess`."""

    @cached_property
    def _client(self) -> Any:
        return aws.stepfunctions_client()

    def send_success(self, token: str, output: dict[str, object]) -> bool:
        try:
            self._client.send_task_success(taskToken=token, output=json.dumps(output))
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("InvalidToken", "TaskTimedOut", "TaskDoesNotExist"):
                return False
            raise
        return True
