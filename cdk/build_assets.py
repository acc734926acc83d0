"""Builds what synth needs and must not download itself: `python -m cdk.build_assets [--force]`.

- `build/deps-layer/python/`: every runtime dependency (pyproject's `[project] dependencies`, boto3
  included, at the versions pinned there) for Lambda's arm64 / Python 3.12, from manylinux wheels
  only: no Docker, no compiler. Their own dependencies resolve to the versions installed in the
  venv that builds it (a pip constraints file). The layer's boto3 and botocore shadow the
  runtime's own, so production runs the SDK the tests ran, not whatever the runtime ships that week.
- `build/embeddings-layer/wordllama/`: the static embedder's two files (`aicore.llm.embedding.
  STATIC_FILES`: WordLlama's weights and tokenizer, ~18 MB) and the package's licence, copied from
  the `wordllama` wheel installed in the venv: nothing else of the package ships. In Lambda they
  are `/opt/wordllama` (`AICORE_STATIC_EMBEDDINGS`).
- `build/client-layer/python/`: the Python SDK (`clients/python/aicore_client`, its generated protobuf
  code included) and `websockets` (arm64/cp312 wheel): for the functions that play as game clients
  (`Function.client_sdk`, the QA players).
- `build/sagemaker-sdk/`: the SageMaker SDK's core part (where `image_uris.retrieve` lives),
  installed apart from the venv: it pins protobuf<7, which the project's own code does not accept.

Each output is rebuilt only when what it is built from changes (a stamp file holds the hash).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

from aicore.llm.embedding import STATIC_FILES, wordllama_package_directory
from cdk.sources import MissingBuildError, Sources

SAGEMAKER_SDK = "sagemaker-core==2.27.0"
CLIENT_LAYER_REQUIREMENTS = ("websockets==17.4",)  # the SDK's transport; pydantic and protobuf: deps layer
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
NOT_SHIPPED = ("bin",)  # console scripts pointing at the build machine's python
EMBEDDINGS_FOLDER = "wordllama"  # /opt/wordllama in Lambda
EMBEDDINGS_DISTRIBUTION = "wordllama"


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    if match is None:
        raise ValueError(f"cannot read a package name from {requirement!r}")
    return match.group(0).lower().replace("_", "-")


def layer_requirements(pyproject: Path) -> list[str]:
    """`[project] dependencies`: what the functions need at run time, each pinned."""
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    unpinned = [d for d in dependencies if "==" not in d]
    if unpinned:
        raise ValueError(f"pin every runtime dependency in pyproject.toml (==): {', '.join(unpinned)}")
    return [str(d) for d in dependencies]


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _up_to_date(sources: Sources, output: Path, digest: str) -> bool:
    stamp = sources.stamp(output)
    return output.is_dir() and stamp.exists() and stamp.read_text(encoding="utf-8").strip() == digest


def _publish(sources: Sources, staging: Path, output: Path, digest: str) -> bool:
    """The staged build becomes `output`, stamped with what it was built from (True: built)."""
    if output.exists():
        shutil.rmtree(output)
    staging.rename(output)
    sources.stamp(output).write_text(digest + "\n", encoding="utf-8")
    return True


def installed_versions() -> dict[str, str]:
    """What this interpreter (the venv the tests run in) has installed, by normalized name."""
    return {
        _name(d.metadata["Name"]): d.version for d in importlib.metadata.distributions() if d.metadata["Name"]
    }


def _constraints(path: Path) -> Path:
    """A pip constraints file: the layer's transitive dependencies resolve to the venv's versions."""
    path.write_text("".join(f"{n}=={v}\n" for n, v in sorted(installed_versions().items())), encoding="utf-8")
    return path


def _pip_target(target: Path, requirements: Sequence[str], extra: Sequence[str]) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--target", str(target), *extra, *requirements]
    subprocess.run(command, check=True)


def _prune(site: Path, names: Sequence[str]) -> None:
    """Removes packages (and their metadata) that must not ship, and every bytecode cache."""
    for entry in list(site.iterdir()):
        stem = entry.name.split("-")[0].lower().removesuffix(".py")
        if stem in names:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)


def _deps_layer_digest(sources: Sources) -> str:
    requirements = layer_requirements(sources.root / "pyproject.toml")
    return _digest(requirements, LAMBDA_PLATFORM, NOT_SHIPPED)


def _sagemaker_sdk_digest() -> str:
    return _digest(SAGEMAKER_SDK, sys.version_info[:2])


def embeddings_files() -> dict[str, Path]:
    """What the embeddings layer holds (its path inside the layer's folder) and where it comes from:
    the files the static embedder loads, and the wheel's licence."""
    package = wordllama_package_directory()
    files = {name: package / name for name in STATIC_FILES}
    distribution = importlib.metadata.distribution(EMBEDDINGS_DISTRIBUTION)
    licences = [f for f in distribution.files or () if Path(str(f)).name.upper().startswith("LICENSE")]
    if not licences:
        raise MissingBuildError(f"the {EMBEDDINGS_DISTRIBUTION} wheel carries no licence file")
    files["LICENSE"] = Path(str(distribution.locate_file(licences[0])))
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise MissingBuildError(
            f"the static embedder's files are missing: {', '.join(missing)} (make setup installs wordllama)"
        )
    return files


def _embeddings_digest() -> str:
    contents = {
        name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in embeddings_files().items()
    }
    return _digest(EMBEDDINGS_FOLDER, contents)


def client_sdk_files(sources: Sources) -> dict[str, Path]:
    """The SDK's files (relative to its package), its generated protobuf code included."""
    package = sources.client_sdk
    files = {
        str(path.relative_to(package)): path
        for path in sorted(package.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    if "schemas/frames_pb2.py" not in files:
        raise MissingBuildError(f"missing {package}/schemas/frames_pb2.py: run `make protos`")
    return files


def _client_layer_digest(sources: Sources) -> str:
    contents = {
        name: hashlib.sha256(path.read_bytes()).hexdigest()
        for name, path in client_sdk_files(sources).items()
    }
    return _digest(CLIENT_LAYER_REQUIREMENTS, LAMBDA_PLATFORM, contents)


def build_client_layer(sources: Sources, force: bool = False) -> bool:
    digest = _client_layer_digest(sources)
    output = sources.client_layer
    if not force and _up_to_date(sources, output, digest):
        return False
    sources.stamp(output).unlink(missing_ok=True)
    staging = output.with_name(output.name + ".partial")
    site = staging / "python"
    _pip_target(
        site, list(CLIENT_LAYER_REQUIREMENTS), ["--only-binary=:all:", "--no-compile", *LAMBDA_PLATFORM]
    )
    for name, source in client_sdk_files(sources).items():
        target = site / sources.client_sdk.name / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    _prune(site, NOT_SHIPPED)
    return _publish(sources, staging, output, digest)


def check_builds(sources: Sources) -> None:
    """Synth's precondition: every output exists and was built from what the repository says now."""
    wanted = {
        sources.deps_layer: _deps_layer_digest(sources),
        sources.sagemaker_sdk: _sagemaker_sdk_digest(),
        sources.embeddings_layer: _embeddings_digest(),
        sources.client_layer: _client_layer_digest(sources),
    }
    stale = [str(output) for output, digest in wanted.items() if not _up_to_date(sources, output, digest)]
    generated = sources.core_layer / "python" / "aicore" / "schemas" / "frames_pb2.py"
    if not generated.exists():  # the core layer would ship without its protobuf code
        raise MissingBuildError(f"missing {generated}: run `make protos` (python schemas/generate.py)")
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
    constraints = _constraints(sources.build / "deps-layer.constraints.txt")
    extra = ["--only-binary=:all:", "--no-compile", "--constraint", str(constraints), *LAMBDA_PLATFORM]
    _pip_target(site, requirements, extra)
    _prune(site, NOT_SHIPPED)
    return _publish(sources, staging, output, digest)


def build_sagemaker_sdk(sources: Sources, force: bool = False) -> bool:
    digest = _sagemaker_sdk_digest()
    output = sources.sagemaker_sdk
    if not force and _up_to_date(sources, output, digest):
        return False
    sources.stamp(output).unlink(missing_ok=True)
    staging = output.with_name(output.name + ".partial")
    _pip_target(staging, [SAGEMAKER_SDK], ["--only-binary=:all:"])
    return _publish(sources, staging, output, digest)


def build_embeddings_layer(sources: Sources, force: bool = False) -> bool:
    digest = _embeddings_digest()
    output = sources.embeddings_layer
    if not force and _up_to_date(sources, output, digest):
        return False
    sources.stamp(output).unlink(missing_ok=True)
    staging = output.with_name(output.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    for name, source in embeddings_files().items():
        target = staging / EMBEDDINGS_FOLDER / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return _publish(sources, staging, output, digest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    sources = Sources()
    sources.build.mkdir(parents=True, exist_ok=True)
    builds = (
        ("deps layer", build_deps_layer),
        ("embeddings layer", build_embeddings_layer),
        ("sagemaker sdk", build_sagemaker_sdk),
        ("client layer", build_client_layer),
    )
    for label, build in builds:
        built = build(sources, force=args.force)
        print(f"{label}: {'built' if built else 'up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
