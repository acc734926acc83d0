"""Model management through the local runtime: HTTP API, the real ASL on moto's Step Functions, the
local SageMaker control plane, and smoke tests that are real generations by the local model.

The bad version is bad the way a real one can be: its serving settings give it a 64-token
context, so the container refuses every real request (as vLLM does). Its smoke test fails, the
flow rolls it back, and the model that served before answers again.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from aicore.auth import Role
from aicore.aws.sagemaker_runtime import SageMakerEndpoint
from aicore.llm.endpoint import ChatCall, TierTarget
from aicore.llm.wire import ChatMessage
from aicore.local.embedded_aws import aws_client
from aicore.local.runtime import ENV, LocalRuntime, local_token
from aicore.topology import TOPOLOGY, resource_environment
from tests.waiting import eventually, finished_execution

pytestmark = [pytest.mark.model, pytest.mark.timeout(180)]

STUDIO = local_token("studio-1", "demo", (Role.STUDIO,))
GREETING = [ChatMessage(role="user", content="Hello! Who are you?")]


def spec(version: str, max_model_len: int = 2048) -> dict[str, Any]:
    return {
        "version": version,
        "description": "SmolLM2 stands in for every model locally",
        "model": {"hf_model_id": "HuggingFaceTB/SmolLM2-135M-Instruct"},
        "engine": {"max_model_len": max_model_len, "max_batch_size": 8},
    }


def call(runtime: LocalRuntime, method: str, path: str, body: Any = None, token: str = STUDIO) -> Any:
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


def register(runtime: LocalRuntime, tier: str, body: dict[str, Any]) -> None:
    status, answer = call(runtime, "POST", f"/models/{tier}/versions", body)
    assert status == 201, answer


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


def test_a_good_version_goes_in_service(runtime: LocalRuntime) -> None:
    # Given a version registered by a studio user
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
