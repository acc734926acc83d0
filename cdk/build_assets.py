"""Builds what synth needs and must not download itself: `python -m cdk.build_assets [--force]`.

- `build/deps-layer/python/`: the runtime dependencies (pyproject's `[project] dependencies` less
  boto3) for Lambda's arm64 / Python 3.12, from manylinux wheels only: no Docker, no compiler.
  Packages the Lambda runtime already provides (botocore and its own dependencies, pulled in by
  aws-xray-sdk) are removed, so the layer stays small and never shadows the runtime's SDK.
- `build/sagemaker-sdk/`: the SageMaker SDK's core part (where `image_uris.retrieve` lives),
  installed apart from the venv: it pins protobuf<7, which the project's own code does not accept.

Each output is rebuilt only when what it is built from changes (a stamp file holds the hash).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

from cdk.sources import MissingBuildError, Sources

SAGEMAKER_SDK = "sagemaker-core==2.27.0"
# Lambda's Python 3.12 runs on Amazon Linux 2023 (glibc 2.34): wheels for glibc 2.28 and older fit
# (numpy's arm64 wheels are manylinux_2_28; most others are manylinux2014, i.e. glibc 2.17).
LAMBDA_PLATFORM = (
    "--platform",
    "manylinux_2_28_aarch64",
    "--platform",
    "manylinux2014_aarch64",
    "--python-version",
    "3.12",
    "--implementation",
    "cp",
)
# In the Lambda Python runtime already; shipping them again would shadow the runtime's boto3.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "urllib3", "python_dateutil", "dateutil", "six")
NOT_SHIPPED = ("bin",)  # console scripts pointing at the build machine's python
NOT_IN_LAYER = ("boto3",)


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    if match is None:
        raise ValueError(f"cannot read a package name from {requirement!r}")
    return match.group(0).lower().replace("_", "-")


def layer_requirements(pyproject: Path) -> list[str]:
    """`[project] dependencies` that the functions need at run time, less what Lambda provides."""
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    return [d for d in dependencies if _name(d) not in NOT_IN_LAYER]


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _up_to_date(sources: Sources, output: Path, digest: str) -> bool:
    stamp = sources.stamp(output)
    return output.is_dir() and stamp.exists() and stamp.read_text(encoding="utf-8").strip() == digest


def _pip_target(target: Path, requirements: Sequence[str], extra: Sequence[str]) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--target", str(target), *extra, *requirements]
    subprocess.run(command, check=True)


def _prune(site: Path, names: Sequence[str]) -> None:
    """Removes packages (and their metadata) that the Lambda runtime provides."""
    for entry in list(site.iterdir()):
        stem = entry.name.split("-")[0].lower().removesuffix(".py")
        if stem in names:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def _deps_layer_digest(sources: Sources) -> str:
    requirements = layer_requirements(sources.root / "pyproject.toml")
    return _digest(requirements, LAMBDA_PLATFORM, RUNTIME_PROVIDED, NOT_SHIPPED)


def _sagemaker_sdk_digest() -> str:
    return _digest(SAGEMAKER_SDK, sys.version_info[:2])


def check_builds(sources: Sources) -> None:
    """Synth's precondition: both outputs exist and were built from what the repository says now."""
    wanted = {sources.deps_layer: _deps_layer_digest(sources), sources.sagemaker_sdk: _sagemaker_sdk_digest()}
    stale = [str(output) for output, digest in wanted.items() if not _up_to_date(sources, output, digest)]
    if stale:
        raise MissingBuildError(
            f"missing or out-of-date build output {', '.join(stale)}: run `make cdk-assets` "
            "(or `.venv/bin/python -m cdk.build_assets`) with access to PyPI; synth itself stays offline"
        )


def build_deps_layer(sources: Sources, force: bool = False) -> bool:
    requirements = layer_requirements(sources.root / "pyproject.toml")
    digest = _deps_layer_digest(sources)
    output = sources.deps_layer
    if not force and _up_to_date(sources, output, digest):
        return False
    sources.stamp(output).unlink(missing_ok=True)
    staging = output.with_name(output.name + ".partial")
    site = staging / "python"
    _pip_target(site, requirements, ["--only-binary=:all:", "--no-compile", *LAMBDA_PLATFORM])
    _prune(site, (*RUNTIME_PROVIDED, *NOT_SHIPPED))
    if output.exists():
        shutil.rmtree(output)
    staging.rename(output)
    sources.stamp(output).write_text(digest + "\n", encoding="utf-8")
    return True


def build_sagemaker_sdk(sources: Sources, force: bool = False) -> bool:
    digest = _sagemaker_sdk_digest()
    output = sources.sagemaker_sdk
    if not force and _up_to_date(sources, output, digest):
        return False
    sources.stamp(output).unlink(missing_ok=True)
    staging = output.with_name(output.name + ".partial")
    _pip_target(staging, [SAGEMAKER_SDK], ["--only-binary=:all:"])
    if output.exists():
        shutil.rmtree(output)
    staging.rename(output)
    sources.stamp(output).write_text(digest + "\n", encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    sources = Sources()
    sources.build.mkdir(parents=True, exist_ok=True)
    for label, build in (("deps layer", build_deps_layer), ("sagemaker sdk", build_sagemaker_sdk)):
        built = build(sources, force=args.force)
        print(f"{label}: {'built' if built else 'up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
