"""Reads IAM out of a synthesized template as (action, target) pairs with readable targets.

A target is what a resource expression points at: `table:sessions`, `bucket-objects:archive`,
`endpoint:gold`, `connections`, `logs:/aws/lambda/aicore-dev-npc-say`, `*`, ...
"""

from __future__ import annotations

import json
import re
from typing import Any

Template = dict[str, Any]


def _by_type(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def function_role(template: Template, function_name: str) -> str:
    """Logical id of the role of the Lambda named `function_name`."""
    for resource in _by_type(template, "AWS::Lambda::Function").values():
        if resource["Properties"].get("FunctionName") == function_name:
            role: str = resource["Properties"]["Role"]["Fn::GetAtt"][0]
            return role
    raise KeyError(function_name)


def state_machine_role(template: Template, name: str) -> str:
    for resource in _by_type(template, "AWS::StepFunctions::StateMachine").values():
        if resource["Properties"].get("StateMachineName") == name:
            role: str = resource["Properties"]["RoleArn"]["Fn::GetAtt"][0]
            return role
    raise KeyError(name)


def statements(template: Template, role: str) -> list[dict[str, Any]]:
    """Every statement of every inline policy attached to `role` (the role has no managed policies)."""
    found = []
    assert not template["Resources"][role]["Properties"].get("ManagedPolicyArns"), role
    for policy in _by_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    return found


def _target(template: Template, expression: Any) -> str:
    resources = template["Resources"]
    if expression == "*":
        return "*"
    if isinstance(expression, dict) and ("Fn::GetAtt" in expression or "Ref" in expression):
        logical = expression["Fn::GetAtt"][0] if "Fn::GetAtt" in expression else expression["Ref"]
        resource = resources[logical]
        props: dict[str, Any] = resource.get("Properties", {})
        name = str(
            props.get("TableName")
            or props.get("QueueName")
            or props.get("StateMachineName")
            or props.get("FunctionName")
            or ""
        )
        kind = resource["Type"]
        if kind == "AWS::DynamoDB::Table":
            return "table:" + name.split("-", 2)[2]
        if kind == "AWS::Logs::LogGroup":
            return "logs:" + str(props.get("LogGroupName", logical))
        if kind == "AWS::SQS::Queue":
            return "queue:" + name
        if kind == "AWS::Events::EventBus":
            return "bus"
        if kind == "AWS::SecretsManager::Secret":  # the signing keys, or an operator's secret by name
            logical_name = str(props.get("Name", "")).split("-", 2)[-1]
            return "secret" if logical_name == "signing-keys" else f"secret:{logical_name}"
        if kind == "AWS::StepFunctions::StateMachine":
            return "state-machine:" + name.split("-", 2)[2]
        if kind == "AWS::Lambda::Function":
            return "function:" + name.split("-", 2)[2]
        if kind == "AWS::Lambda::Alias":
            function = resources[props["FunctionName"]["Ref"]]["Properties"]["FunctionName"]
            return f"alias:{function.split('-', 2)[2]}:{props['Name']}"
        if kind == "AWS::IAM::Role" and re.search(r"tierrole[0-9A-F]{8}$", logical):
            return "model-role:" + re.sub(r"tierrole[0-9A-F]{8}$", "", logical)
        if kind == "AWS::S3::Bucket":
            return "bucket:" + re.sub(r"bucket[0-9A-F]{8}$", "", logical.removeprefix("data"))
        return f"{kind}:{logical}"
    if isinstance(expression, dict) and "Fn::Join" in expression:
        parts = expression["Fn::Join"][1]
        text = json.dumps(parts)
        if "@connections" in text:
            return "connections"
        if match := re.search(r":parameter(/[^\"]+)", text):
            return "parameter:" + match.group(1)
        if match := re.search(r":execution:([a-z0-9-]+):\*", text):
            return "executions:" + match.group(1)
        if ":polly:" in text and text.endswith(':lexicon/*"]'):
            return "lexicons"
        if match := re.search(r":execution:([a-z0-9-]+)/\*", text):  # a Distributed Map's child executions
            return "map-executions:" + match.group(1)
        if match := re.search(r":stateMachine:([a-z0-9-]+)\"", text):
            return "state-machine-named:" + match.group(1)
        if match := re.search(
            r":(endpoint|inference-component|model)/aicore-[a-z0-9]+-([a-z0-9]+)(-\*)?", text
        ):
            kind = {"endpoint": "endpoint", "inference-component": "component", "model": "models"}[
                match.group(1)
            ]
            return f"{kind}:{match.group(2)}"
        head = parts[0]
        if isinstance(head, dict) and len(parts) == 2:
            inner = _target(template, head)
            if parts[1] == "/*" and inner.startswith("bucket:"):
                return "bucket-objects:" + inner.removeprefix("bucket:")
            if str(parts[1]).startswith("/") and str(parts[1]).endswith("*") and inner.startswith("bucket:"):
                return "bucket-objects:" + inner.removeprefix("bucket:") + str(parts[1])[:-1]
            if parts[1] == ":*" and inner.startswith("function:"):
                return inner + ":*"
            if parts[1] == "/index/*" and inner.startswith("table:"):
                return "table-index:" + inner.removeprefix("table:")
        return "join:" + text
    return f"unknown:{json.dumps(expression)}"


def grants(template: Template, role: str) -> set[tuple[str, str]]:
    """(action, target) for every statement of the role; Allow only (the stack writes no Deny)."""
    pairs: set[tuple[str, str]] = set()
    for statement in statements(template, role):
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        targets = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        pairs |= {(a, _target(template, t)) for a in actions for t in targets}
    return pairs
