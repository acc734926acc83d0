"""The model import flow's steps and the tier setup custom resource, over fakes; the S3 and SSM
adapters over moto. The flow through its real ASL and a stand-in hub is in
tests/integration/test_model_deploy.py."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from aicore.aws.model_store import S3ModelStore
from aicore.aws.serving_record import SsmServingRecord
from aicore.errors import Conflict
from aicore.llm.endpoints_config import EngineSettings, ModelSource
from aicore.llm.tiers import Tier
from aicore.modelops.hub import HubError, HubFile
from aicore.modelops.models import ModelVersion, VersionSpec, WeightsStatus
from aicore.modelops.staging import (
    GIT_BLOB_METADATA,
    SHA256_METADATA,
    CopyItem,
    ImportDeps,
    ImportFailed,
    ImportRequest,
    ImportState,
    run_step,
    served_files,
)
from aicore.modelops.tier_setup import TierSetupDeps, TierSetupFailed, handle
from aicore.topology import MODEL_IMPORT_FLOW
from tests.model_fakes import FakeHub, FakeRegistry, FakeServingRecord, FakeStarter, FakeWeightsStore

REVISION = "cdbee75f17c01a7cc42f958dc650907174af0554"
MODEL = ModelSource(hf_model_id="Qwen/Qwen3-4B-Instruct-2507", revision=REVISION)
FILES = {
    "config.json": b'{"architectures": ["Qwen3ForCausalLM"]}',
    "tokenizer.json": b'{"model": {}}',
    "model-00001-of-00002.safetensors": b"\x01" * 3000,
    "model-00002-of-00002.safetensors": b"\x02" * 1000,
    "README.md": b"# Qwen3",
    "onnx/model.onnx": b"not served",
    "modeling_qwen3.py": b"print('no remote code')",
}


class World:
    def __init__(self) -> None:
        self.hub = FakeHub()
        self.hub.add(MODEL, FILES)
        self.store = FakeWeightsStore()
        self.registry = FakeRegistry()
        self.deps = ImportDeps(hub=self.hub, store=self.store, registry=self.registry, chunk_bytes=512)

    def run(self, request: ImportRequest) -> dict[str, Any]:
        """The import flow's path, as the ASL takes it (Catch -> fail)."""
        state: dict[str, Any] = ImportState(request=request).model_dump(mode="json")
        try:
            state = run_step("plan", state, self.deps)
            state["copied"] = [run_step("copy", item, self.deps) for item in state["items"]]
            return run_step("finish", state, self.deps)
        except (ImportFailed, HubError) as error:
            caught = {"Error": type(error).__name__, "Cause": error.message}
            return run_step("fail", state, self.deps, caught)


@pytest.fixture
def world() -> World:
    return World()


def test_an_import_stages_the_served_files_under_the_pinned_revision(world: World) -> None:
    # When the tier's model is imported
    done = world.run(ImportRequest(model=MODEL))

    # Then exactly the files a container serves are in the bucket, under hf/<model>/<commit>/
    prefix = f"hf/Qwen/Qwen3-4B-Instruct-2507/{REVISION}/"
    assert set(world.store.objects) == {prefix + p for p in FILES if p.endswith((".json", ".safetensors"))}
    for path, content in FILES.items():
        if prefix + path in world.store.objects:
            assert world.store.objects[prefix + path][0] == content
    weights = world.store.objects[prefix + "model-00001-of-00002.safetensors"][1]
    assert weights[SHA256_METADATA] == hashlib.sha256(FILES["model-00001-of-00002.safetensors"]).hexdigest()
    assert done["staged"]["status"] == "staged"
    assert done["staged"]["s3_uri"] == f"s3://{world.store.bucket}/{prefix}"
    assert (done["staged"]["files"], done["staged"]["bytes"]) == (
        4,
        sum(len(FILES[p]) for p in FILES if prefix + p in world.store.objects),
    )
    # and the manifest beside the prefix (not inside it: SageMaker copies the prefix to the container)
    manifest = world.store.documents[f"hf/Qwen/Qwen3-4B-Instruct-2507/{REVISION}.manifest.json"]
    assert manifest["revision"] == REVISION
    assert {f["path"] for f in manifest["files"]} == {k.removeprefix(prefix) for k in world.store.objects}


def test_importing_again_copies_nothing(world: World) -> None:
    world.run(ImportRequest(model=MODEL))
    served = len(world.hub.served)
    done = world.run(ImportRequest(model=MODEL))
    assert len(world.hub.served) == served
    assert done["staged"]["status"] == "staged"


def _importing(world: World, execution: str) -> ImportRequest:
    """A registered version whose import the API has begun as `execution` (what the flow is given)."""
    if world.registry.get_version(Tier.GOLD, "v1") is None:
        spec = VersionSpec(
            version="v1", model=MODEL, engine=EngineSettings(max_model_len=4096, max_batch_size=32)
        )
        world.registry.create_version(ModelVersion.register(Tier.GOLD, spec, "admin-1"))
    world.registry.begin_import(Tier.GOLD, "v1", execution)
    return ImportRequest(model=MODEL, tier=Tier.GOLD, version="v1", execution_name=execution)


def _without_time(state: dict[str, Any]) -> dict[str, Any]:
    staged = {k: v for k, v in (state["staged"] or {}).items() if k != "updated_at"}
    return {**state, "staged": staged}


def test_every_import_step_delivered_twice_answers_the_same_and_stages_once(world: World) -> None:
    # Given an import the API began for v1 of the gold tier
    state = ImportState(request=_importing(world, "gold-import-v1-1")).model_dump(mode="json")

    # When every step of the flow is delivered twice (a retried task, a Lambda that timed out)
    planned, planned_again = run_step("plan", state, world.deps), run_step("plan", state, world.deps)
    copied = [run_step("copy", item, world.deps) for item in planned["items"]]
    copied_again = [run_step("copy", item, world.deps) for item in planned["items"]]
    finished = run_step("finish", {**planned, "copied": copied}, world.deps)
    finished_again = run_step("finish", {**planned, "copied": copied}, world.deps)

    # Then each answers as it did the first time (a file copied already is not fetched again)
    assert planned == planned_again
    assert [c | {"copied": False} for c in copied] == copied_again
    assert len(world.hub.served) == len(planned["items"])
    assert _without_time(finished) == _without_time(finished_again)
    # And the version's weights are staged, recorded by this execution
    version = world.registry.get_version(Tier.GOLD, "v1")
    assert version is not None
    assert version.weights is not None
    assert (version.weights.status, version.weights.execution_name, version.weights.files) == (
        WeightsStatus.STAGED,
        "gold-import-v1-1",
        4,
    )


def test_a_failure_recorded_twice_is_recorded_once_and_a_replaced_import_records_nothing(
    world: World,
) -> None:
    # Given an import whose RecordFailure ran, and ran again (a retry)
    state = ImportState(request=_importing(world, "gold-import-v1-1")).model_dump(mode="json")
    caught = {"Error": "HubUnavailable", "Cause": "the hub timed out"}
    failed = run_step("fail", state, world.deps, caught)
    assert _without_time(run_step("fail", state, world.deps, caught)) == _without_time(failed)

    # When an admin imports again, and a late step of the first import is delivered after that
    _importing(world, "gold-import-v1-2")
    with pytest.raises(Conflict, match="replaced by a later import"):
        run_step("fail", state, world.deps, caught)

    # Then the version says what the second import is doing, not what the first one did
    version = world.registry.get_version(Tier.GOLD, "v1")
    assert version is not None
    assert version.weights is not None
    assert (version.weights.status, version.weights.execution_name) == (
        WeightsStatus.IMPORTING,
        "gold-import-v1-2",
    )


def test_a_file_whose_bytes_do_not_match_the_listing_is_not_kept(world: World) -> None:
    # Given a hub that sends other bytes than its listing's hashes say
    world.hub.corrupt.add("config.json")
    item = next(
        CopyItem.model_validate(i)
        for i in run_step("plan", ImportState(request=ImportRequest(model=MODEL)).model_dump(), world.deps)[
            "items"
        ]
        if i["file"]["path"] == "config.json"
    )
    # When it is copied, Then the copy fails and the upload is abandoned
    with pytest.raises(ImportFailed, match="longer than"):
        run_step("copy", item.model_dump(), world.deps)
    assert world.store.aborted == [item.key]
    assert item.key not in world.store.objects


def test_a_weights_file_with_another_sha256_is_refused(world: World) -> None:
    state = run_step("plan", ImportState(request=ImportRequest(model=MODEL)).model_dump(), world.deps)
    item = next(i for i in state["items"] if i["file"]["path"].endswith("00002.safetensors"))
    item["file"]["sha256"] = "0" * 64
    with pytest.raises(ImportFailed, match="SHA-256"):
        run_step("copy", item, world.deps)
    # nor is a staged copy with other hashes taken for it
    world.store.objects[item["key"]] = (FILES["model-00002-of-00002.safetensors"], {GIT_BLOB_METADATA: "x"})
    with pytest.raises(ImportFailed, match="SHA-256"):
        run_step("copy", item, world.deps)


def test_a_revision_that_is_not_a_pinned_commit_or_has_no_safetensors_is_refused(world: World) -> None:
    # Given a version registered for the gold tier
    version = ModelVersion.register(
        Tier.GOLD,
        VersionSpec.model_validate(
            {
                "version": "v1",
                "model": MODEL.model_dump(),
                "engine": {"max_model_len": 4096, "max_batch_size": 8},
            }
        ),
        "admin",
    )
    world.registry.create_version(version)
    request = ImportRequest(model=MODEL, tier=Tier.GOLD, version="v1", execution_name="gold-import-v1")

    # When the hub answers another commit, Then the import fails and the version says why
    world.hub.answer_commit = "f" * 40
    done = world.run(request)
    assert done["staged"]["status"] == "failed"
    failed = world.registry.get_version(Tier.GOLD, "v1")
    assert failed is not None
    assert failed.weights is not None
    assert failed.weights.status == WeightsStatus.FAILED
    assert "pin the full 40-character commit" in (failed.weights.failure or "")

    # When the revision has no safetensors, Then likewise
    world.hub.answer_commit = None
    world.hub.add(MODEL, {"config.json": b"{}", "pytorch_model.bin": b"\x00"})
    assert "no .safetensors" in (world.run(request)["staged"]["failure"] or "")

    # When the hub has the revision with its weights, Then the version is staged
    world.hub.add(MODEL, FILES)
    world.run(request)
    staged = world.registry.get_version(Tier.GOLD, "v1")
    assert staged is not None
    assert staged.staged


def test_an_unknown_revision_fails_with_the_hubs_answer(world: World) -> None:
    other = MODEL.model_copy(update={"revision": "a" * 40})
    done = world.run(ImportRequest(model=other))
    assert done["staged"]["status"] == "failed"
    assert done["staged"]["failure"].startswith("HubError: The hub has no revision aaaa")
    assert world.store.objects == {}


@pytest.mark.parametrize(
    "path", ["../escape.json", "a/../../b.json", "/etc/x.json", "a//b.json", "a\\b.json"]
)
def test_a_file_path_that_could_leave_the_model_directory_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="not a plain relative path"):
        HubFile(path=path, size=1, git_blob="0" * 40)


def test_only_what_a_container_reads_is_copied() -> None:
    hub = FakeHub()
    hub.add(MODEL, {**FILES, "1_Pooling/config.json": b"{}", "original/consolidated.safetensors": b"x"})
    paths = [f.path for f in served_files(hub.snapshot(MODEL).files)]
    assert paths == [
        "1_Pooling/config.json",
        "config.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "tokenizer.json",
    ]


# --- the tier setup custom resource ------------------------------------------------------------


class Watcher:
    """`FlowWatcher` whose executions are in the state the test sets."""

    def __init__(self) -> None:
        self.now = "RUNNING"

    def status(self, execution_arn: str) -> tuple[str, str | None]:
        return self.now, "States.TaskFailed" if self.now == "FAILED" else None


def cfn_event(request: str, **data: Any) -> dict[str, Any]:
    return {
        "RequestType": request,
        "RequestId": "2b8f8f7c-1f0e-4d3c-9a51-6b2d0c7e3a10",
        "ResourceProperties": {
            "Tier": "gold",
            "ParameterName": "/aicore/dev/model-tiers/gold/serving-model",
            "HfModelId": MODEL.hf_model_id,
            "Revision": MODEL.revision,
            "InitialModel": "aicore-dev-gold-1a2b3c4d",
        },
        **({"Data": data} if data else {}),
    }


def setup_world() -> tuple[TierSetupDeps, FakeStarter, Watcher, FakeServingRecord]:
    starter, watcher, serving = FakeStarter(), Watcher(), FakeServingRecord()
    return TierSetupDeps(flows=starter, watcher=watcher, serving=serving), starter, watcher, serving


def test_the_first_deploy_stages_the_weights_then_serves_the_initial_model() -> None:
    deps, starter, watcher, serving = setup_world()
    # When CloudFormation creates the tier
    started = handle(cfn_event("Create"), deps)
    # Then the import flow runs for the pinned revision, and the resource waits for it
    (machine, name, payload) = starter.started[0]
    assert machine == MODEL_IMPORT_FLOW
    assert len(name) <= 80
    assert payload["request"]["model"] == MODEL.model_dump()
    assert started["PhysicalResourceId"] == "/aicore/dev/model-tiers/gold/serving-model"
    arn = started["Data"]["ImportExecutionArn"]
    assert handle(cfn_event("Create", ImportExecutionArn=arn), deps) == {"IsComplete": False}
    watcher.now = "SUCCEEDED"
    done = handle(cfn_event("Create", ImportExecutionArn=arn), deps)
    # and the component serves the stack's initial model, now recorded
    assert done == {"IsComplete": True, "Data": {"ServingModel": "aicore-dev-gold-1a2b3c4d"}}
    assert serving.get("gold") == "aicore-dev-gold-1a2b3c4d"


def test_a_create_delivered_twice_starts_one_import_and_answers_the_same() -> None:
    # Given CloudFormation's Create, delivered twice (the provider framework retries its onEvent)
    deps, starter, watcher, serving = setup_world()
    started = handle(cfn_event("Create"), deps)
    started_again = handle(cfn_event("Create"), deps)

    # Then one import flow runs, and both answers wait for it
    assert started == started_again
    assert len(starter.started) == 1
    arn = started["Data"]["ImportExecutionArn"]

    # And when its isComplete is delivered twice too, both say the same, recorded once
    watcher.now = "SUCCEEDED"
    done = handle(cfn_event("Create", ImportExecutionArn=arn), deps)
    assert handle(cfn_event("Create", ImportExecutionArn=arn), deps) == done
    assert done["Data"]["ServingModel"] == serving.get("gold") == "aicore-dev-gold-1a2b3c4d"

    # And a Delete delivered twice is as harmless
    assert handle(cfn_event("Delete"), deps) == handle(cfn_event("Delete"), deps)
    assert serving.get("gold") is None


def test_a_stack_update_keeps_the_model_the_registry_deployed() -> None:
    # Given the registry deployed v3 after the first deploy
    deps, _, watcher, serving = setup_world()
    serving.put("gold", "aicore-dev-gold-v3-0a1b2c", overwrite=True)
    watcher.now = "SUCCEEDED"
    # When a stack update changes the tier (CloudFormation asks the resource again)
    arn = handle(cfn_event("Update"), deps)["Data"]["ImportExecutionArn"]
    done = handle(cfn_event("Update", ImportExecutionArn=arn), deps)
    # Then the component keeps serving v3: CloudFormation does not put its initial model back
    assert done["Data"]["ServingModel"] == "aicore-dev-gold-v3-0a1b2c"
    assert serving.get("gold") == "aicore-dev-gold-v3-0a1b2c"


def test_a_failed_import_fails_the_deploy_and_a_deleted_stack_forgets_the_record() -> None:
    deps, _, watcher, serving = setup_world()
    arn = handle(cfn_event("Create"), deps)["Data"]["ImportExecutionArn"]
    watcher.now = "FAILED"
    with pytest.raises(TierSetupFailed, match=r"ended FAILED: States\.TaskFailed"):
        handle(cfn_event("Create", ImportExecutionArn=arn), deps)
    assert serving.get("gold") is None
    serving.put("gold", "m", overwrite=True)
    assert handle(cfn_event("Delete"), deps)["IsComplete"] is True
    assert serving.get("gold") is None


# --- adapters over moto ------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def test_the_models_bucket_takes_large_files_in_parts_and_small_ones_whole(aws: None) -> None:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="models")
    store = S3ModelStore("models", client=client, part_bytes=5 * 1024 * 1024)
    big = bytes(range(256)) * (11 * 1024 * 1024 // 256)  # 11 MiB: three parts
    writer = store.writer("hf/m/r/model.safetensors", {"sha256": "abc"})
    for start in range(0, len(big), 1024 * 1024):
        writer.write(big[start : start + 1024 * 1024])
    writer.commit()
    small = store.writer("hf/m/r/config.json", {"git-blob": "def"})
    small.write(b"{}")
    small.commit()

    found = store.head("hf/m/r/model.safetensors")
    assert found is not None
    assert (found.size, found.metadata["sha256"]) == (len(big), "abc")
    assert client.get_object(Bucket="models", Key="hf/m/r/model.safetensors")["Body"].read() == big
    assert store.head("hf/m/r/config.json") == type(found)(size=2, metadata={"git-blob": "def"})
    assert store.head("hf/m/r/absent") is None

    # An abandoned upload leaves nothing behind
    abandoned = store.writer("hf/m/r/half.safetensors", {})
    abandoned.write(big)
    abandoned.abort()
    assert store.head("hf/m/r/half.safetensors") is None
    assert client.list_multipart_uploads(Bucket="models").get("Uploads", []) == []


def test_the_serving_record_is_one_parameter_per_tier(aws: None) -> None:
    record = SsmServingRecord("dev", client=boto3.client("ssm", region_name="us-east-1"))
    assert record.get("gold") is None
    record.put("gold", "aicore-dev-gold-initial", overwrite=False)
    record.put("gold", "ignored: a record exists", overwrite=False)
    assert record.get("gold") == "aicore-dev-gold-initial"
    record.put("gold", "aicore-dev-gold-v2-abc123", overwrite=True)
    assert record.get("gold") == "aicore-dev-gold-v2-abc123"
    parameter = boto3.client("ssm", region_name="us-east-1").get_parameter(
        Name="/aicore/dev/model-tiers/gold/serving-model"
    )
    assert parameter["Parameter"]["Value"] == "aicore-dev-gold-v2-abc123"
    record.delete("gold")
    record.delete("gold")
    assert record.get("gold") is None
