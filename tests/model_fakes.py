"""Fakes for model management: the registry in memory, SageMaker's control plane, a flow starter,
the serving record, the hub and the models bucket."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from botocore.exceptions import ClientError

from aicore.clock import utc_now
from aicore.errors import Conflict
from aicore.flows import FlowStarted
from aicore.llm.endpoints_config import ModelSource
from aicore.llm.tiers import Tier
from aicore.local.sagemaker_control import ControlPlaneError, LocalHosting
from aicore.modelops.hub import HubError, HubFile, HubSnapshot
from aicore.modelops.models import (
    DEPLOYABLE,
    Deployment,
    FinishedDeployment,
    ModelVersion,
    SmokeResult,
    StagedWeights,
    TierState,
    VersionStatus,
    WeightsStatus,
)
from aicore.modelops.registry import HISTORY_LIMIT
from aicore.modelops.staging import StoredObject


@dataclass
class FakeRegistry:
    """`ModelRegistry` in memory, with the same rules as the DynamoDB one: one deployment per tier."""

    versions: dict[tuple[Tier, str], ModelVersion] = field(default_factory=dict)
    states: dict[Tier, TierState] = field(default_factory=dict)

    def create_version(self, version: ModelVersion) -> ModelVersion | None:
        existing = self.versions.get((version.tier, version.version))
        if existing is None:
            self.versions[(version.tier, version.version)] = version
        return existing

    def get_version(self, tier: Tier, version: str) -> ModelVersion | None:
        return self.versions.get((tier, version))

    def tier(self, tier: Tier) -> tuple[TierState, list[ModelVersion]]:
        versions = [v for (t, _), v in self.versions.items() if t == tier]
        return self.state(tier), sorted(versions, key=lambda v: v.created_at, reverse=True)

    def state(self, tier: Tier) -> TierState:
        return self.states.get(tier, TierState(tier=tier))

    def begin(self, deployment: Deployment) -> None:
        state = self.state(deployment.tier)
        if state.deploying is not None:
            raise Conflict(f"A deployment of the {deployment.tier} tier is already running.")
        version = self.versions[(deployment.tier, deployment.version)]
        if version.status not in DEPLOYABLE:
            raise Conflict(f"Version {version.version} is {version.status}.")
        self.states[deployment.tier] = state.model_copy(update={"deploying": deployment})
        self._set(deployment.tier, deployment.version, status=VersionStatus.DEPLOYING)

    def cancel(self, deployment: Deployment, status: VersionStatus) -> None:
        self._release(deployment)
        self._set(deployment.tier, deployment.version, status=status)

    def record_model(self, deployment: Deployment, sagemaker_model: str) -> None:
        self._set(deployment.tier, deployment.version, sagemaker_model=sagemaker_model)

    def begin_import(self, tier: Tier, version: str, execution_name: str) -> None:
        current = self.versions[(tier, version)]
        if current.weights is not None and current.weights.status == WeightsStatus.IMPORTING:
            raise Conflict(f"An import of version {version} is running already.")
        importing = StagedWeights(status=WeightsStatus.IMPORTING, execution_name=execution_name)
        self._set(tier, version, weights=importing)

    def record_weights(self, tier: Tier, version: str, weights: StagedWeights) -> None:
        current = self.versions.get((tier, version))
        recorded_by = current.weights.execution_name if current and current.weights else None
        replaced = weights.execution_name is not None and recorded_by not in (None, weights.execution_name)
        if current is None or replaced:
            raise Conflict(
                f"Import {weights.execution_name} of version {version} was replaced by a later import."
            )
        self._set(tier, version, weights=weights)

    def succeed(self, deployment: Deployment, smoke: SmokeResult | None) -> TierState:
        if self._finished_as(deployment, "in_service"):
            return self.state(deployment.tier)
        history = list(self._release(deployment).history)
        if deployment.kind == "rollback":
            while history and history[-1] != deployment.version:
                history.pop()
        if not history or history[-1] != deployment.version:
            history.append(deployment.version)
        history = history[-HISTORY_LIMIT:]
        self.states[deployment.tier] = self.state(deployment.tier).model_copy(update={"history": history})
        self._set(
            deployment.tier,
            deployment.version,
            status=VersionStatus.IN_SERVICE,
            smoke=smoke,
            failure=None,
            finished=FinishedDeployment(execution_name=deployment.execution_name, outcome="in_service"),
        )
        if deployment.from_version and deployment.from_version != deployment.version:
            replaced = (
                VersionStatus.ROLLED_BACK if deployment.kind == "rollback" else VersionStatus.SUPERSEDED
            )
            self._set(deployment.tier, deployment.from_version, status=replaced)
        return self.state(deployment.tier)

    def fail(self, deployment: Deployment, failure: str, smoke: SmokeResult | None) -> TierState:
        if self._finished_as(deployment, "failed"):
            return self.state(deployment.tier)
        self._release(deployment)
        self._set(
            deployment.tier,
            deployment.version,
            status=VersionStatus.FAILED,
            failure=failure[:1000],
            smoke=smoke,
            finished=FinishedDeployment(execution_name=deployment.execution_name, outcome="failed"),
        )
        return self.state(deployment.tier)

    def _finished_as(self, deployment: Deployment, outcome: Literal["in_service", "failed"]) -> bool:
        """Whether this deployment ended so already (a step run again) and no longer holds the tier."""
        state = self.state(deployment.tier)
        if state.deploying is not None and state.deploying.execution_name == deployment.execution_name:
            return False
        version = self.versions.get((deployment.tier, deployment.version))
        done = FinishedDeployment(execution_name=deployment.execution_name, outcome=outcome)
        return version is not None and version.finished == done

    def _release(self, deployment: Deployment) -> TierState:
        state = self.state(deployment.tier)
        if state.deploying is None or state.deploying.execution_name != deployment.execution_name:
            raise Conflict(
                f"Deployment {deployment.execution_name} does not hold the {deployment.tier} tier."
            )
        self.states[deployment.tier] = state.model_copy(update={"deploying": None})
        return self.states[deployment.tier]

    def _set(self, tier: Tier, version: str, **changes: Any) -> None:
        current = self.versions[(tier, version)]
        self.versions[(tier, version)] = current.model_copy(update={**changes, "updated_at": utc_now()})


class LocalSageMakerClient:
    """A boto3-like `sagemaker` client answered by the local control plane, in process (no sockets)."""

    def __init__(self, hosting: LocalHosting) -> None:
        self.hosting = hosting
        self.calls: list[str] = []
        self.requests: dict[str, list[dict[str, Any]]] = {}

    def __getattr__(self, method: str) -> Any:
        operation = "".join(part.title() for part in method.split("_"))

        def call(**request: Any) -> dict[str, Any]:
            self.calls.append(operation)
            self.requests.setdefault(operation, []).append(request)
            try:
                return self.hosting.handle(operation, request)
            except ControlPlaneError as error:
                raise ClientError({"Error": {"Code": error.code, "Message": str(error)}}, operation) from None

        return call


@dataclass
class FakeStarter:
    """`FlowStarter` that records what it was asked to start (or fails, when told to).

    As `StepFunctionsStarter`: a second start of a name starts nothing and reports the first.
    """

    started: list[tuple[str, str, Mapping[str, Any]]] = field(default_factory=list)
    failing: bool = False

    def start(self, machine: str, name: str, payload: Mapping[str, Any]) -> FlowStarted:
        if self.failing:
            raise RuntimeError("Step Functions is unreachable")
        already = any((m, n) == (machine, name) for m, n, _ in self.started)
        if not already:
            self.started.append((machine, name, payload))
        arn = f"arn:aws:states:us-east-1:123456789012:execution:{re.sub('[^a-z-]', '', machine)}:{name}"
        return FlowStarted(execution_arn=arn, started=not already)


@dataclass
class FakeServingRecord:
    """`ServingRecord` in memory: which model the registry recorded as serving each tier."""

    models: dict[str, str] = field(default_factory=dict)

    def get(self, tier: str) -> str | None:
        return self.models.get(tier)

    def put(self, tier: str, model_name: str, *, overwrite: bool) -> None:
        if overwrite or tier not in self.models:
            self.models[tier] = model_name

    def delete(self, tier: str) -> None:
        self.models.pop(tier, None)


def git_blob(content: bytes) -> str:
    """Git's object id of a file's content (what the hub lists as `blobId` for non-LFS files)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class FakeHub:
    """`ModelHub` over files in memory; `.safetensors` files are listed as LFS (with SHA-256).

    `served` counts the files it sent; `corrupt` names files whose bytes differ from the listing.
    """

    repos: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)
    served: list[str] = field(default_factory=list)
    corrupt: set[str] = field(default_factory=set)
    answer_commit: str | None = None  # a hub that answers another commit than asked

    def add(self, model: ModelSource, files: Mapping[str, bytes]) -> None:
        self.repos[(model.hf_model_id, model.revision)] = dict(files)

    def snapshot(self, model: ModelSource) -> HubSnapshot:
        files = self.repos.get((model.hf_model_id, model.revision))
        if files is None:
            raise HubError(f"The hub has no revision {model.revision} of {model.hf_model_id} (HTTP 404).")
        listed = []
        for path, content in files.items():
            lfs = path.endswith(".safetensors")
            digest = hashlib.sha256(content).hexdigest()
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{digest}"
            listed.append(
                HubFile(
                    path=path,
                    size=len(content),
                    git_blob=git_blob(pointer.encode() if lfs else content),
                    sha256=digest if lfs else None,
                )
            )
        return HubSnapshot(commit=self.answer_commit or model.revision, files=listed)

    @contextmanager
    def open(self, model: ModelSource, path: str) -> Iterator[IO[bytes]]:
        content = self.repos[(model.hf_model_id, model.revision)][path]
        self.served.append(path)
        yield io.BytesIO(content + b"!" if path in self.corrupt else content)


@dataclass
class _Writer:
    store: FakeWeightsStore
    key: str
    metadata: dict[str, str]
    parts: list[bytes] = field(default_factory=list)

    def write(self, chunk: bytes) -> None:
        self.parts.append(chunk)

    def commit(self) -> None:
        self.store.objects[self.key] = (b"".join(self.parts), self.metadata)

    def abort(self) -> None:
        self.store.aborted.append(self.key)


@dataclass
class FakeWeightsStore:
    """`WeightsStore` in memory: objects with their metadata, aborted uploads, JSON documents."""

    bucket: str = "aicore-unit-models"
    objects: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)
    documents: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    aborted: list[str] = field(default_factory=list)

    def head(self, key: str) -> StoredObject | None:
        found = self.objects.get(key)
        return StoredObject(size=len(found[0]), metadata=found[1]) if found else None

    def writer(self, key: str, metadata: Mapping[str, str]) -> _Writer:
        return _Writer(self, key, dict(metadata))

    def put_json(self, key: str, document: Mapping[str, Any]) -> None:
        self.documents[key] = document
