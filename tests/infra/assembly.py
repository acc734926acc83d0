"""Reads one stage's cloud assembly: the top-level template and its nested stacks' templates.

A nested stack's template is a file of its own (an asset of the top-level stack); the values it
takes from other templates arrive as parameters (`referenceto...`), and the top-level template
reads a nested stack's values from its outputs (`Fn::GetAtt [<stack>, Outputs.<name>]`).
`merged` puts every resource of every template into one template and replaces those parameters
and outputs with what they stand for, so a reference reads as it would in a single template:
`{"Ref": "<the table's logical id>"}`, wherever the table is.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NESTED_STACK = "AWS::CloudFormation::Stack"
OUTPUTS = "Outputs."


@dataclass
class StackTemplate:
    """One template: `name` is the stack's (`aicore-dev`) or the nested stack's (`compute`)."""

    name: str
    path: Path
    body: dict[str, Any]
    parent: StackTemplate | None = None
    logical_id: str | None = None  # of the AWS::CloudFormation::Stack resource in `parent`
    children: dict[str, StackTemplate] = field(default_factory=dict)  # by that logical id

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.body["Resources"]
        return resources

    @property
    def parameters(self) -> dict[str, Any]:
        parameters: dict[str, Any] = self.body.get("Parameters", {})
        return parameters

    @property
    def outputs(self) -> dict[str, Any]:
        outputs: dict[str, Any] = self.body.get("Outputs", {})
        return outputs

    def walk(self) -> list[StackTemplate]:
        """This template and every template nested in it, parents first."""
        return [self, *(t for child in self.children.values() for t in child.walk())]


def read_assembly(assembly: Path, name: str) -> StackTemplate:
    """The stage's one top-level stack (named `name`) and, recursively, its nested stacks."""
    (top,) = [p for p in assembly.glob("*.template.json") if not p.name.endswith(".nested.template.json")]
    (manifest,) = assembly.glob("*.assets.json")
    assets = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    files = {asset_hash: asset["source"]["path"] for asset_hash, asset in assets.items()}
    return _read(assembly, top, name, files)


def _read(assembly: Path, path: Path, name: str, files: dict[str, str]) -> StackTemplate:
    template = StackTemplate(name=name, path=path, body=json.loads(path.read_text(encoding="utf-8")))
    for logical, resource in template.resources.items():
        if resource["Type"] != NESTED_STACK:
            continue
        url = json.dumps(resource["Properties"]["TemplateURL"])
        (asset_hash,) = re.findall(r"/([0-9a-f]{64})\.json", url)
        child = _read(assembly, assembly / files[asset_hash], logical.split("NestedStack")[0], files)
        child.parent, child.logical_id = template, logical
        template.children[logical] = child
    return template


def merged(top: StackTemplate) -> dict[str, Any]:
    """Every resource of every template, references across templates resolved; the top's outputs."""
    resources: dict[str, dict[str, Any]] = {}
    for template in top.walk():
        for logical, resource in template.resources.items():
            if logical in resources:
                raise AssertionError(f"{logical} is in two templates: merged views would confuse them")
            _check_no_parameter_in_sub(template, resource)
            resources[logical] = _resolve(template, resource)
    return {**top.body, "Resources": resources, "Outputs": _resolve(top, top.outputs)}


def _resolve(template: StackTemplate, value: Any) -> Any:
    if isinstance(value, list):
        return [_resolve(template, v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in template.parameters and template.parent is not None:
        assert template.logical_id is not None
        passed = template.parent.resources[template.logical_id]["Properties"]["Parameters"][value["Ref"]]
        return _resolve(template.parent, passed)
    if set(value) == {"Fn::GetAtt"}:
        logical, attribute = value["Fn::GetAtt"]
        if logical in template.children and str(attribute).startswith(OUTPUTS):
            child = template.children[logical]
            return _resolve(child, child.outputs[attribute.removeprefix(OUTPUTS)]["Value"])
    return {k: _resolve(template, v) for k, v in value.items()}


def _check_no_parameter_in_sub(template: StackTemplate, resource: dict[str, Any]) -> None:
    """`Fn::Sub` strings may name parameters (`${name}`), which `_resolve` does not rewrite."""
    text = json.dumps(resource)
    for parameter in template.parameters:
        if "${" + parameter + "}" in text:
            raise AssertionError(f"{template.name}: a Fn::Sub names parameter {parameter}")
