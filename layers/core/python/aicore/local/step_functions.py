"""Step Functions, locally: moto runs our real ASL; its Lambda tasks call our handlers in process.

Definitions are filled the way `cdk/` fills them (`definition_substitutions`): every resource
name of `resource_environment` and every function's ARN under its `arn_variable`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from moto.awslambda_simple.models import LambdaSimpleBackend

from aicore.local.embedded_aws import ACCOUNT, REGION, aws_client
from aicore.local.lambdas import REPO_ROOT, Lambdas
from aicore.observability import logger
from aicore.topology import TOPOLOGY, Topology, physical_name, resource_environment

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/aicore-local-states"


def function_arn(env: str, function_name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical_name(env, function_name)}"


def substitutions(env: str, topology: Topology = TOPOLOGY) -> dict[str, str]:
    values = resource_environment(env, topology)
    values |= {
        fn.arn_variable: function_arn(env, fn.name) for fn in (topology.authorizer, *topology.functions)
    }
    return values


def fill(definition: str, values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise KeyError(f"no value for ${{{match.group(1)}}}")
        return values[match.group(1)]

    return PLACEHOLDER.sub(replace, definition)


def create_state_machines(
    endpoint_url: str, env: str, topology: Topology = TOPOLOGY, root: Path = REPO_ROOT
) -> dict[str, str]:
    """Creates every state machine of the topology; returns the env vars naming their ARNs."""
    client = aws_client("stepfunctions", endpoint_url)
    values = substitutions(env, topology)
    arns: dict[str, str] = {}
    for machine in topology.state_machines:
        definition = fill((root / machine.definition_path).read_text(encoding="utf-8"), values)
        created = client.create_state_machine(
            name=physical_name(env, machine.name),
            definition=definition,
            roleArn=ROLE_ARN,
            type="EXPRESS" if machine.express else "STANDARD",
        )
        arns[machine.env_var] = created["stateMachineArn"]
    return arns


class LambdaBridge:
    """Serves moto's Lambda `Invoke` with our handlers (moto's own simple backend only echoes)."""

    def __init__(self, lambdas: Lambdas, env: str, topology: Topology = TOPOLOGY) -> None:
        self._lambdas = lambdas
        self._by_name = {physical_name(env, fn.name): fn.name for fn in topology.functions}
        self._original = LambdaSimpleBackend.invoke

    def install(self) -> None:
        bridge = self

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> bytes:
            return bridge.invoke(function_name, body, response_headers)

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]

    def uninstall(self) -> None:
        LambdaSimpleBackend.invoke = self._original  # type: ignore[method-assign]

    def invoke(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        name = self._by_name.get(function_name.rsplit(":", 1)[-1])
        if name is None:
            return self._error(response_headers, "ResourceNotFoundException", f"no function {function_name}")
        payload = json.loads(body) if body else {}
        try:
            result = self._lambdas.invoke(name, payload)
        except Exception as exc:
            logger.warning("State machine task failed", extra={"function": name, "error": repr(exc)})
            return self._error(response_headers, type(exc).__name__, str(exc))
        return json.dumps(result).encode()

    @staticmethod
    def _error(response_headers: dict[str, str], error_type: str, message: str) -> bytes:
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps({"errorType": error_type, "errorMessage": message}).encode()
