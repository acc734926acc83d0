"""Model management through the local runtime: HTTP API, the real ASL on moto's Step Functions, the
local SageMaker control plane, and smoke tests that are real generations by the local model.

Before a version deploys, the import flow stages its pinned revision: its real ASL, the real
import steps (hub client, S3 multipart uploads on moto, the registry), against a stand-in for the
Hugging Face hub on loopback (tests/hub_stand_in.py). Model management takes an admin token.

The bad version is bad the way a real one can be: its serving settings give it a 64-token
context, so the container refuses every real request (as vLLM does). Its smoke test fails, the
flow rolls it back, and the model that served before answers again.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from aicore.auth import Role
from aicore.aws.sagemaker_runtime import SageMakerEndpoint
from aicore.llm.endpoint import ChatCall, TierTarget
from aicore.llm.endpoints_config import ModelSource
from aicore.llm.wire import ChatMessage
from aicore.local.embedded_aws import aws_client
from aicore.local.runtime import ENV, LocalRuntime, local_token
from aicore.settings import get_settings
from aicore.topology import TOPOLOGY, ModelTier, physical_name, resource_environment
from tests.hub_stand_in import HubStandIn, hub_stand_in
from tests.waiting import eventually, finished_execution

pytestmark = [pytest.mark.model, pytest.mark.timeout(180)]

ADMIN = local_token("admin-1", "demo", (Role.ADMIN,))
STUDIO = local_token("studio-1", "demo", (Role.STUDIO,))
GREETING = [ChatMessage(role="user", content="Hello! Who are you?")]
HF_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
REVISION = "12fd25f77366fa6b3b4b768ec3050bf629380bac"
WEIGHTS = {
    "config.json": b'{"architectures": ["LlamaForCausalLM"]}',
    "tokenizer.json": b'{"version": "1.0"}',
    "model.safetensors": bytes(range(256)) * 64,
}


@pytest.fixture(scope="module", autouse=True)
def hub() -> Iterator[HubStandIn]:
    """The hub the import function reads (MODEL_HUB_URL), with SmolLM2's pinned revision on it."""
    with hub_stand_in() as (url, stand_in):
        stand_in.add(ModelSource(hf_model_id=HF_MODEL, revision=REVISION), WEIGHTS)
        before = os.environ.get("MODEL_HUB_URL")
        os.environ["MODEL_HUB_URL"] = url
        get_settings.cache_clear()
        yield stand_in
        if before is None:
            os.environ.pop("MODEL_HUB_URL", None)
        else:
            os.environ["MODEL_HUB_URL"] = before
        get_settings.cache_clear()


def spec(version: str, max_model_len: int = 2048, revision: str = REVISION) -> dict[str, Any]:
    return {
        "version": version,
        "description": "SmolLM2 stands in for every model locally",
        "model": {"hf_model_id": HF_MODEL, "revision": revision},
        "engine": {"max_model_len": max_model_len, "max_batch_size": 8},
    }


def call(runtime: LocalRuntime, method: str, path: str, body: Any = None, token: str = ADMIN) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{runtime.options.port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def deployed(runtime: LocalRuntime, tier: str, version: str) -> dict[str, Any]:
    """Registers and deploys `version`, then waits for the flow to finish; the version as it ends."""
    status, started = call(runtime, "POST", f"/models/{tier}/versions/{version}/deploy")
    assert status == 202, started

    def settled() -> dict[str, Any] | None:
        data: dict[str, Any] = call(runtime, "GET", f"/models/{tier}/versions/{version}")[1]["data"]
        return data if data["status"] != "deploying" else None

    data = eventually(settled, timeout_s=180, what=f"the deployment of {version}")
    stepfunctions = aws_client("stepfunctions", runtime.aws.url)
    execution = finished_execution(stepfunctions, started["data"]["execution_arn"], timeout_s=60)
    return {**data, "execution": execution}


def register(runtime: LocalRuntime, tier: str, body: dict[str, Any], *, stage: bool = True) -> None:
    """Registers a version and, unless told not to, imports its weights (a deploy needs them)."""
    status, answer = call(runtime, "POST", f"/models/{tier}/versions", body)
    assert status in (200, 201), answer
    if stage:
        assert imported(runtime, tier, body["version"])["weights"]["status"] == "staged"


def imported(runtime: LocalRuntime, tier: str, version: str) -> dict[str, Any]:
    """Starts the import flow for `version` and waits for it; the version as it ends."""
    status, started = call(runtime, "POST", f"/models/{tier}/versions/{version}/import")
    assert status == 202, started
    stepfunctions = aws_client("stepfunctions", runtime.aws.url)
    execution = finished_execution(stepfunctions, started["data"]["execution_arn"], timeout_s=120)
    _, answer = call(runtime, "GET", f"/models/{tier}/versions/{version}")
    return {**answer["data"], "execution": execution}


def names(tier: str) -> tuple[str, str]:
    env = resource_environment(ENV)
    model_tier = next(t for t in TOPOLOGY.model_tiers if t.name == tier)
    return env[model_tier.env_var], env[model_tier.component_env_var]


def real_answer(tier: str) -> str:
    endpoint, component = names(tier)
    stream = SageMakerEndpoint().stream_chat(
        ChatCall(TierTarget(endpoint, component), GREETING, max_tokens=4, temperature=0.0, timeout_s=60)
    )
    return "".join(stream).strip()


def test_the_import_flow_stages_a_pinned_revision_checked_file_by_file(
    runtime: LocalRuntime, hub: HubStandIn
) -> None:
    # Given a registered version of a model the hub has at the pinned revision
    version = f"staged-{uuid.uuid4().hex[:8]}"
    register(runtime, "gold", spec(version), stage=False)

    # When its import runs (the real ASL, Map state included, and the real steps)
    done = imported(runtime, "gold", version)

    # Then every served file is in the models bucket, byte for byte, with its hashes, and the
    # version says where: the s3:// prefix a SageMaker model reads
    assert done["execution"]["status"] == "SUCCEEDED"
    prefix = f"hf/{HF_MODEL}/{REVISION}/"
    bucket = physical_name(ENV, "models")
    assert done["weights"] == {
        **done["weights"],
        "status": "staged",
        "s3_uri": f"s3://{bucket}/{prefix}",
        "files": len(WEIGHTS),
        "bytes": sum(map(len, WEIGHTS.values())),
    }
    s3 = aws_client("s3", runtime.aws.url)
    for path, content in WEIGHTS.items():
        stored = s3.get_object(Bucket=bucket, Key=prefix + path)
        assert stored["Body"].read() == content
    weights = s3.head_object(Bucket=bucket, Key=prefix + "model.safetensors")
    assert weights["Metadata"]["sha256"] == hashlib.sha256(WEIGHTS["model.safetensors"]).hexdigest()
    manifest = json.loads(
        s3.get_object(Bucket=bucket, Key=f"hf/{HF_MODEL}/{REVISION}.manifest.json")["Body"].read()
    )
    assert {f["path"] for f in manifest["files"]} == set(WEIGHTS)

    # And importing again copies nothing (the staged files match)
    downloads = len(hub.downloads)
    assert imported(runtime, "gold", version)["weights"]["status"] == "staged"
    assert len(hub.downloads) == downloads


def test_an_import_of_a_revision_the_hub_lacks_fails_and_says_why(runtime: LocalRuntime) -> None:
    version = f"missing-{uuid.uuid4().hex[:8]}"
    register(runtime, "gold", spec(version, revision="b" * 40), stage=False)
    done = imported(runtime, "gold", version)
    assert done["execution"]["status"] == "FAILED"
    assert done["execution"].get("error", "ImportFailed") == "ImportFailed"
    assert done["weights"]["status"] == "failed"
    assert "The hub has no revision bbbb" in done["weights"]["failure"]
    status, answer = call(runtime, "POST", f"/models/gold/versions/{version}/deploy")
    assert (status, answer["error"]["code"]) == (409, "conflict")
    assert "import it first" in answer["error"]["message"]


def test_a_good_version_goes_in_service(runtime: LocalRuntime) -> None:
    # Given a version registered and imported by an admin
    version = f"good-{uuid.uuid4().hex[:8]}"
    register(runtime, "gold", spec(version))

    # When it is deployed
    done = deployed(runtime, "gold", version)

    # Then the flow succeeded, the smoke test was a real generation, and the tier serves it
    assert done["execution"]["status"] == "SUCCEEDED"
    assert done["status"] == "in_service", done
    assert done["smoke"]["passed"]
    assert done["smoke"]["text"]
    _, component = names("gold")
    assert runtime.hosting.serving_model(component) == done["sagemaker_model"]
    _, tier = call(runtime, "GET", "/models/gold")
    assert tier["data"]["live_version"] == version
    assert tier["data"]["deploying"] is None
    # and the record CloudFormation reads says so (a stack update keeps serving it)
    ssm = aws_client("ssm", runtime.aws.url)
    parameter = ssm.get_parameter(Name=ModelTier("gold").serving_parameter(ENV))["Parameter"]
    assert parameter["Value"] == done["sagemaker_model"]


def test_a_version_whose_smoke_test_fails_is_rolled_back_and_the_previous_one_serves(
    runtime: LocalRuntime,
) -> None:
    # Given what serves gold now
    _, component = names("gold")
    serving_before = runtime.hosting.serving_model(component)
    _, before = call(runtime, "GET", "/models/gold")

    # When a version whose container takes only 32 tokens of context is deployed
    version = f"tiny-context-{uuid.uuid4().hex[:8]}"
    register(runtime, "gold", spec(version, max_model_len=32))
    done = deployed(runtime, "gold", version)

    # Then its smoke test failed on the real request, and the flow rolled it back
    assert done["execution"]["status"] == "FAILED"
    assert done["execution"].get("error", "DeploymentRolledBack") == "DeploymentRolledBack"
    assert done["status"] == "failed"
    assert "maximum context length is 32 tokens" in done["failure"]
    assert done["smoke"]["passed"] is False

    # And the model that served before serves again, and answers a real request
    assert runtime.hosting.serving_model(component) == serving_before
    _, after = call(runtime, "GET", "/models/gold")
    assert after["data"]["live_version"] == before["data"]["live_version"]
    assert real_answer("gold")


def _timing_out_after_the_work(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch, version: str, steps: set[str]
) -> list[str]:
    """Each of `steps` of `version`'s deployment does its work the first time, then fails its task (a
    Lambda that timed out after it was done): the flow's Retry runs it again. The steps so failed."""
    invoke = runtime.lambdas.invoke
    failed: list[str] = []

    def first_time_fails_after_the_work(name: str, event: dict[str, Any]) -> Any:
        result = invoke(name, event)
        step = str(event.get("step"))
        deployment = (event.get("state") or {}).get("deployment") or {}
        if deployment.get("version") == version and step in steps and step not in failed:
            failed.append(step)
            raise TimeoutError(f"Task timed out after its {step} was done")
        return result

    monkeypatch.setattr(runtime.lambdas, "invoke", first_time_fails_after_the_work)
    return failed


def test_a_deployment_whose_steps_run_twice_still_goes_in_service(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a version whose update and keep tasks each time out once after doing their work
    version = f"twice-{uuid.uuid4().hex[:8]}"
    register(runtime, "gold", spec(version))
    failed = _timing_out_after_the_work(runtime, monkeypatch, version, {"update", "keep"})

    # When it is deployed
    done = deployed(runtime, "gold", version)

    # Then both ran twice, and the deployment ended as if they had not: the version serves
    assert failed == ["update", "keep"]
    assert done["execution"]["status"] == "SUCCEEDED", done
    assert done["status"] == "in_service"
    _, component = names("gold")
    assert runtime.hosting.serving_model(component) == done["sagemaker_model"]
    assert call(runtime, "GET", "/models/gold")[1]["data"]["live_version"] == version


def test_a_rollback_whose_steps_run_twice_still_puts_the_previous_model_back(
    runtime: LocalRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given what serves gold now, and a version that fails its smoke test, whose roll_back and
    # fail tasks each time out once after doing their work
    _, component = names("gold")
    serving_before = runtime.hosting.serving_model(component)
    version = f"tiny-twice-{uuid.uuid4().hex[:8]}"
    register(runtime, "gold", spec(version, max_model_len=32))
    failed = _timing_out_after_the_work(runtime, monkeypatch, version, {"roll_back", "fail"})

    # When it is deployed
    done = deployed(runtime, "gold", version)

    # Then both ran twice, and the flow rolled back as if they had not: the model before serves again
    assert failed == ["roll_back", "fail"]
    assert done["execution"].get("error") == "DeploymentRolledBack", done
    assert (done["status"], done["smoke"]["passed"]) == ("failed", False)
    assert runtime.hosting.serving_model(component) == serving_before
    assert call(runtime, "GET", "/models/gold")[1]["data"]["deploying"] is None


def test_rollback_puts_the_previous_version_back(runtime: LocalRuntime) -> None:
    first, second = (f"{name}-{uuid.uuid4().hex[:8]}" for name in ("first", "second"))
    for version in (first, second):
        register(runtime, "silver", spec(version))
        assert deployed(runtime, "silver", version)["status"] == "in_service"

    status, started = call(runtime, "POST", "/models/silver/rollback")
    assert status == 202, started
    assert (started["data"]["deployment"]["kind"], started["data"]["deployment"]["version"]) == (
        "rollback",
        first,
    )

    def rolled_back() -> dict[str, Any] | None:
        data: dict[str, Any] = call(runtime, "GET", "/models/silver")[1]["data"]
        return None if data["deploying"] else data

    tier = eventually(rolled_back, timeout_s=180, what="the rollback")

    statuses = {v["version"]: v["status"] for v in tier["versions"]}
    assert tier["live_version"] == first
    assert (statuses[first], statuses[second]) == ("in_service", "rolled_back")
    _, component = names("silver")
    assert runtime.hosting.serving_model(component) == next(
        v["sagemaker_model"] for v in tier["versions"] if v["version"] == first
    )


def test_the_api_refuses_what_it_cannot_do(runtime: LocalRuntime) -> None:
    player = local_token("player-9", "demo")
    assert call(runtime, "GET", "/models/gold", token=player)[0] == 403
    # the shared tiers are the platform's: a studio of any world is refused too
    for method, path, body in (
        ("GET", "/models/gold", None),
        ("POST", "/models/gold/versions", spec("from-a-studio")),
        ("POST", "/models/gold/versions/x/import", None),
        ("POST", "/models/gold/versions/x/deploy", None),
        ("POST", "/models/gold/rollback", None),
    ):
        status, answer = call(runtime, method, path, body, token=STUDIO)
        assert (status, answer["error"]["code"]) == (403, "forbidden"), path
    assert call(runtime, "GET", "/models/bronze")[0] == 404
    assert call(runtime, "POST", "/models/gold/versions/nope/deploy")[0] == 404
    status, answer = call(runtime, "POST", "/models/gold/versions", {"version": "x"})
    assert status == 400
    assert answer["error"]["code"] == "invalid_request"
    version = f"twice-{uuid.uuid4().hex[:8]}"
    register(runtime, "gold", spec(version))
    register(runtime, "gold", spec(version))  # the same spec again: fine
    status, answer = call(runtime, "POST", "/models/gold/versions", spec(version, max_model_len=1024))
    assert (status, answer["error"]["code"]) == (409, "conflict")
