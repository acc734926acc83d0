"""The steps of the model import flow (`state_machines/model-import.asl.json`).

plan -> copy (a Map state: one file per task, a few at a time) -> finish; any failure -> fail

A model's weights are copied once per pinned revision from the hub into the environment's models
bucket (`hf/<model>/<revision>/`), where SageMaker reads them for every instance that starts:
a serving container never reaches the hub. Every file is checked while it streams through: its
size, its git blob id, and for LFS files (the weights) its SHA-256, all from the hub's listing
of that commit; a file that does not match is not kept. Steps are idempotent: a file already
staged with the same hashes is not copied again, so a retried or repeated import is cheap.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from aicore.errors import AicoreError
from aicore.llm.endpoints_config import ModelSource
from aicore.llm.tiers import Tier
from aicore.modelops.hub import HubFile, ModelHub
from aicore.modelops.models import StagedWeights, WeightsStatus
from aicore.modelops.registry import ModelRegistry
from aicore.observability import logger

# What a serving container reads: configs, tokenizers, chat templates and safetensors weights.
# Not copied: other weight formats (.bin, .gguf, .onnx, ...), code (no trust_remote_code), docs.
SERVED_SUFFIXES = (".json", ".safetensors", ".txt", ".model", ".tiktoken", ".jinja")
SKIPPED_DIRECTORIES = ("onnx/", "openvino/", "original/", "coreml/", "tf/", "flax/", "gguf/")
MAX_FILES = 200  # keeps the flow's state far below Step Functions' 256 KB payload limit
CHUNK_BYTES = 8 * 1024 * 1024
SHA256_METADATA = "sha256"
GIT_BLOB_METADATA = "git-blob"


class ImportFailed(AicoreError):
    """The import cannot stage this revision; the message says why."""


class ImportRequest(BaseModel):
    """What to import; with `tier` and `version`, the registry's version records the outcome."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: ModelSource
    tier: Tier | None = None
    version: str | None = None
    execution_name: str | None = None


class CopyItem(BaseModel):
    """One file to copy: everything the copy task needs (a Map iteration sees only its item)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: ModelSource
    key: str
    file: HubFile


class CopyResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    size: int
    git_blob: str
    sha256: str | None = None
    copied: bool  # False: it was staged already, with the same hashes


class ImportState(BaseModel):
    """What the import flow carries from step to step (its steps return it updated)."""

    model_config = ConfigDict(extra="forbid")

    request: ImportRequest
    bucket: str = ""
    prefix: str = ""
    items: list[CopyItem] = Field(default_factory=list)
    copied: list[CopyResult] = Field(default_factory=list)
    staged: StagedWeights | None = None


@dataclass(frozen=True)
class StoredObject:
    size: int
    metadata: Mapping[str, str]


class ObjectWriter(Protocol):
    def write(self, chunk: bytes) -> None: ...

    def commit(self) -> None:
        """The object exists, complete, under its key."""
        ...

    def abort(self) -> None:
        """Nothing of it is kept."""
        ...


class WeightsStore(Protocol):
    """The environment's models bucket."""

    @property
    def bucket(self) -> str: ...

    def head(self, key: str) -> StoredObject | None: ...

    def writer(self, key: str, metadata: Mapping[str, str]) -> ObjectWriter: ...

    def put_json(self, key: str, document: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class ImportDeps:
    hub: ModelHub
    store: WeightsStore
    registry: ModelRegistry
    chunk_bytes: int = CHUNK_BYTES


def served_files(files: list[HubFile]) -> list[HubFile]:
    """The files a serving container needs, in a stable order."""
    return sorted(
        (f for f in files if f.path.endswith(SERVED_SUFFIXES) and not f.path.startswith(SKIPPED_DIRECTORIES)),
        key=lambda f: f.path,
    )


def plan(state: ImportState, deps: ImportDeps) -> ImportState:
    """Lists the pinned revision's files on the hub and says where each goes in the models bucket."""
    model = state.request.model
    snapshot = deps.hub.snapshot(model)
    if snapshot.commit != model.revision:
        raise ImportFailed(
            f"The hub answered commit {snapshot.commit} for revision {model.revision} of "
            f"{model.hf_model_id}: pin the full 40-character commit."
        )
    files = served_files(snapshot.files)
    if not any(f.path.endswith(".safetensors") for f in files):
        raise ImportFailed(
            f"Revision {model.revision} of {model.hf_model_id} has no .safetensors weights: "
            "the serving containers load safetensors only."
        )
    if len(files) > MAX_FILES:
        raise ImportFailed(f"{model.hf_model_id} has {len(files)} files to stage; at most {MAX_FILES}.")
    prefix = model.staged_prefix
    items = [CopyItem(model=model, key=prefix + f.path, file=f) for f in files]
    logger.info(
        "Import planned",
        extra={"model": model.hf_model_id, "revision": model.revision, "files": len(items)},
    )
    return state.model_copy(update={"bucket": deps.store.bucket, "prefix": prefix, "items": items})


def copy(item: CopyItem, deps: ImportDeps) -> CopyResult:
    """Streams one file from the hub into the bucket, checking it on the way; skips it if staged."""
    expected = item.file
    if _already_staged(deps.store.head(item.key), expected):
        return CopyResult(
            path=expected.path,
            size=expected.size,
            git_blob=expected.git_blob,
            sha256=expected.sha256,
            copied=False,
        )
    metadata = {GIT_BLOB_METADATA: expected.git_blob}
    if expected.sha256:
        metadata[SHA256_METADATA] = expected.sha256
    sha256 = hashlib.sha256()
    git_blob = hashlib.sha1(b"blob %d\0" % expected.size)
    size = 0
    writer = deps.store.writer(item.key, metadata)
    try:
        with deps.hub.open(item.model, expected.path) as stream:
            for chunk in iter(lambda: stream.read(deps.chunk_bytes), b""):
                size += len(chunk)
                if size > expected.size:
                    raise ImportFailed(
                        f"{expected.path} is longer than the {expected.size} bytes the hub lists."
                    )
                sha256.update(chunk)
                git_blob.update(chunk)
                writer.write(chunk)
        _check(expected, size, sha256.hexdigest(), git_blob.hexdigest())
    except BaseException:
        writer.abort()
        raise
    writer.commit()
    return CopyResult(
        path=expected.path, size=size, git_blob=expected.git_blob, sha256=expected.sha256, copied=True
    )


def finish(state: ImportState, deps: ImportDeps) -> ImportState:
    """Every file is staged: the manifest says what, and the registry's version says so."""
    copied = {c.path: c for c in state.copied}
    missing = [i.file.path for i in state.items if i.file.path not in copied]
    if missing:
        raise ImportFailed(f"{len(missing)} file(s) were not staged: {', '.join(missing[:5])}")
    model = state.request.model
    deps.store.put_json(
        model.manifest_key,
        {
            "hf_model_id": model.hf_model_id,
            "revision": model.revision,
            "prefix": state.prefix,
            "files": [c.model_dump(exclude={"copied"}) for c in state.copied],
        },
    )
    staged = StagedWeights(
        status=WeightsStatus.STAGED,
        s3_uri=f"s3://{state.bucket}/{state.prefix}",
        files=len(state.copied),
        bytes=sum(c.size for c in state.copied),
        execution_name=state.request.execution_name,
    )
    _record(state.request, staged, deps)
    logger.info(
        "Import staged", extra={"s3_uri": staged.s3_uri, "files": staged.files, "bytes": staged.bytes}
    )
    return state.model_copy(update={"staged": staged, "items": [], "copied": []})


def fail(state: ImportState, deps: ImportDeps, caught: Mapping[str, Any] | None = None) -> ImportState:
    """The import stopped: the registry's version says why (importing again is safe)."""
    reason = _caught(caught) or "the import failed"
    failed = StagedWeights(
        status=WeightsStatus.FAILED, failure=reason[:1000], execution_name=state.request.execution_name
    )
    _record(state.request, failed, deps)
    return state.model_copy(update={"staged": failed, "items": [], "copied": []})


def run_step(
    step: str, event: Mapping[str, Any], deps: ImportDeps, caught: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`copy` takes one `CopyItem`; the other steps take and return the `ImportState`."""
    if step == "copy":
        return copy(CopyItem.model_validate(event), deps).model_dump(mode="json")
    steps: dict[str, Callable[[ImportState, ImportDeps], ImportState]] = {"plan": plan, "finish": finish}
    state = ImportState.model_validate(event)
    if step == "fail":
        return fail(state, deps, caught).model_dump(mode="json")
    if step not in steps:
        raise ImportFailed(f"Unknown import step {step!r}: one of plan, copy, finish, fail.")
    return steps[step](state, deps).model_dump(mode="json")


def _already_staged(found: StoredObject | None, expected: HubFile) -> bool:
    if found is None or found.size != expected.size:
        return False
    if found.metadata.get(GIT_BLOB_METADATA) != expected.git_blob:
        return False
    return expected.sha256 is None or found.metadata.get(SHA256_METADATA) == expected.sha256


def _check(expected: HubFile, size: int, sha256: str, git_blob: str) -> None:
    if size != expected.size:
        raise ImportFailed(f"{expected.path}: {size} bytes arrived, the hub lists {expected.size}.")
    if expected.sha256 is not None and sha256 != expected.sha256:
        raise ImportFailed(f"{expected.path}: SHA-256 {sha256} is not the {expected.sha256} the hub lists.")
    if expected.sha256 is None and git_blob != expected.git_blob:
        raise ImportFailed(
            f"{expected.path}: git blob {git_blob} is not the {expected.git_blob} the hub lists."
        )


def _record(request: ImportRequest, weights: StagedWeights, deps: ImportDeps) -> None:
    if request.tier is not None and request.version is not None:
        deps.registry.record_weights(request.tier, request.version, weights)


def _caught(caught: Mapping[str, Any] | None) -> str | None:
    """The error a Catch put in the state (`{"Error": ..., "Cause": ...}`), in one line."""
    if not caught:
        return None
    return f"{caught.get('Error', 'Error')}: {str(caught.get('Cause', ''))[:500]}"
