"""The custom resource CloudFormation runs for each model tier (see `cdk/model_tier.py`).

Create and Update: start the import flow for the tier's initial model (its pinned revision) and
wait until the weights are staged, so no instance ever starts without them; then answer which
model the tier's inference component serves: what the registry recorded as serving, or, on the
first deploy, the stack's initial model, which is then recorded. CloudFormation gives the
component that answer, so a stack update never puts back a model the registry has replaced.
Delete (the stack goes): the record goes too.

CloudFormation's provider framework calls `on_event` once, then `is_complete` until it says so;
one handler serves both (the import's execution ARN, in `Data`, tells them apart).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aicore.errors import AicoreError
from aicore.flows import FlowStarter
from aicore.llm.endpoints_config import ModelSource
from aicore.modelops.hosting import ServingRecord
from aicore.modelops.staging import ImportRequest, ImportState
from aicore.observability import logger
from aicore.topology import MODEL_IMPORT_FLOW, SERVING_MODEL_ATTRIBUTE

EXECUTION_ARN = "ImportExecutionArn"
SERVING_MODEL = SERVING_MODEL_ATTRIBUTE


class TierSetupFailed(AicoreError):
    """The tier cannot be set up; CloudFormation shows this message and rolls back."""


class FlowWatcher(Protocol):
    def status(self, execution_arn: str) -> tuple[str, str | None]:
        """(RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED, the failure's cause if any)."""
        ...


@dataclass(frozen=True)
class TierSetupDeps:
    flows: FlowStarter
    watcher: FlowWatcher
    serving: ServingRecord


def handle(event: Mapping[str, Any], deps: TierSetupDeps) -> dict[str, Any]:
    properties = event["ResourceProperties"]
    tier = str(properties["Tier"])
    physical_id = str(properties["ParameterName"])  # stable: an update never replaces the resource
    if event["RequestType"] == "Delete":
        deps.serving.delete(tier)
        return {"PhysicalResourceId": physical_id, "IsComplete": True}
    data = event.get("Data") or {}
    if EXECUTION_ARN in data:
        return is_complete(tier, str(data[EXECUTION_ARN]), str(properties["InitialModel"]), deps)
    return on_event(tier, physical_id, properties, str(event["RequestId"]), deps)


def on_event(
    tier: str, physical_id: str, properties: Mapping[str, Any], request_id: str, deps: TierSetupDeps
) -> dict[str, Any]:
    model = ModelSource(hf_model_id=str(properties["HfModelId"]), revision=str(properties["Revision"]))
    name = f"setup-{tier}-{request_id}"[:80]
    payload = ImportState(request=ImportRequest(model=model, execution_name=name)).model_dump(mode="json")
    started = deps.flows.start(MODEL_IMPORT_FLOW, name, payload)
    logger.info("Tier setup: import started", extra={"tier": tier, "execution": started.execution_arn})
    return {"PhysicalResourceId": physical_id, "Data": {EXECUTION_ARN: started.execution_arn}}


def is_complete(tier: str, execution_arn: str, initial_model: str, deps: TierSetupDeps) -> dict[str, Any]:
    status, cause = deps.watcher.status(execution_arn)
    if status == "RUNNING":
        return {"IsComplete": False}
    if status != "SUCCEEDED":
        raise TierSetupFailed(
            f"The import of the {tier} tier's weights ended {status}: {cause or 'no cause given'}. "
            f"Its execution {execution_arn} shows each step."
        )
    deps.serving.put(tier, initial_model, overwrite=False)
    serving = deps.serving.get(tier) or initial_model
    logger.info("Tier setup: weights staged", extra={"tier": tier, "serving_model": serving})
    return {"IsComplete": True, "Data": {SERVING_MODEL: serving}}
