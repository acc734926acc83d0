"""Serving container image URIs, resolved with the SageMaker SDK at synth time (offline).

`image_uris.retrieve` reads the image tables shipped inside the SDK and botocore's endpoint data:
no credentials, no network. The SDK lives in `build/sagemaker-sdk` (apart from the venv, whose
protobuf it would downgrade), so it runs in a child interpreter: one call resolves every image
an app needs, and the answers are kept for the life of the process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aicore.llm.endpoints_config import EndpointConfig
from aicore.topology import Topology
from cdk.config import EnvironmentConfig

_RETRIEVE = """
import json, sys
from sagemaker.core import image_uris
requests = json.loads(sys.argv[1])
print(json.dumps([
    image_uris.retrieve(framework=r["framework"], region=r["region"], version=r["version"],
                        instance_type=r["instance_type"], image_scope="inference")
    for r in requests
]))
"""


@dataclass(frozen=True)
class ImageRequest:
    framework: str
    version: str
    region: str
    instance_type: str


class ImageResolutionError(RuntimeError):
    pass


def image_requests(
    config: EnvironmentConfig, topology: Topology, endpoints: Mapping[str, EndpointConfig]
) -> dict[str, ImageRequest]:
    """What to ask the SageMaker SDK for each tier (checks every tier has its endpoints/<tier>.json)."""
    requests: dict[str, ImageRequest] = {}
    for tier in topology.model_tiers:
        endpoint = endpoints.get(tier.name)
        if endpoint is None:
            raise ValueError(f"model tier {tier.name!r} has no endpoints/{tier.name}.json")
        if tier.name not in config.endpoints:
            raise ValueError(
                f"cdk.json environment {config.name!r} has no endpoints.{tier.name} scaling bounds"
            )
        requests[tier.name] = ImageRequest(
            endpoint.image.framework, endpoint.image.version, config.region, endpoint.instance_type
        )
    return requests


class SdkImageUris:
    """Resolves image URIs with `sagemaker.core.image_uris.retrieve` from the SDK in `sdk_dir`."""

    def __init__(self, sdk_dir: Path) -> None:
        self._sdk_dir = sdk_dir
        self._known: dict[ImageRequest, str] = {}

    def resolve(self, requests: list[ImageRequest]) -> dict[ImageRequest, str]:
        missing = sorted({r for r in requests if r not in self._known}, key=repr)
        if missing:
            self._known.update(zip(missing, self._retrieve(missing), strict=True))
        return {r: self._known[r] for r in requests}

    def _retrieve(self, requests: list[ImageRequest]) -> list[str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(self._sdk_dir),
            "AWS_EC2_METADATA_DISABLED": "true",  # never wait on an instance metadata service
            "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
            "AWS_DEFAULT_REGION": requests[0].region,
        }
        argument = json.dumps([r.__dict__ for r in requests])
        done = subprocess.run(
            [sys.executable, "-c", _RETRIEVE, argument], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise ImageResolutionError(
                f"the SageMaker SDK in {self._sdk_dir} could not resolve {argument}:\n{done.stderr[-2000:]}"
            )
        uris = json.loads(done.stdout.strip().splitlines()[-1])
        if not isinstance(uris, list) or len(uris) != len(requests):
            raise ImageResolutionError(f"unexpected answer from the SageMaker SDK: {done.stdout[-500:]}")
        return [str(u) for u in uris]


def repository_arn(image_uri: str, partition: str) -> str:
    """`<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>` -> the ECR repository's ARN."""
    host, _, rest = image_uri.partition("/")
    account, _, _, region = host.split(".")[:4]
    repository = rest.split("@")[0].rsplit(":", 1)[0]
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"


def cuda_version(image_uri: str) -> tuple[int, int] | None:
    """The CUDA an image is built for, from its tag: `...:0.35.0-lmi17.0.0-cu128` -> (12, 8)."""
    match = re.search(r"-cu(\d{2})(\d)(?:\b|-|$)", image_uri.rsplit(":", 1)[-1])
    return (int(match.group(1)), int(match.group(2))) if match else None
