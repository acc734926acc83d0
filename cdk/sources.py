"""Where the stack finds what it deploys: handler folders, the layer, endpoint configs, ASL, builds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = REPO_ROOT / "build"


class MissingBuildError(RuntimeError):
    """A build output that synth needs (it never downloads anything itself) is missing."""


@dataclass(frozen=True)
class Sources:
    root: Path = REPO_ROOT
    build: Path = BUILD_DIR
    # Tests only: where to find stand-ins for handler folders or ASL files not written yet.
    stand_ins: Path | None = None

    @property
    def core_layer(self) -> Path:
        """The `aicore` package as a layer: `layers/core/python/aicore` (less `aicore.local`)."""
        return self.root / "layers" / "core"

    @property
    def deps_layer(self) -> Path:
        """Runtime dependencies for arm64/cp312, built by `cdk/build_assets.py`: `<dir>/python/...`."""
        return self.build / "deps-layer"

    @property
    def embeddings_layer(self) -> Path:
        """The static embedder's files (`<dir>/wordllama/...`, /opt/wordllama in Lambda), built by
        `cdk/build_assets.py` from the installed `wordllama` wheel."""
        return self.build / "embeddings-layer"

    @property
    def client_layer(self) -> Path:
        """The Python SDK (`aicore_client`, with its generated protobuf code) and `websockets` for
        arm64/cp312 (`<dir>/python/...`), built by `cdk/build_assets.py` for the functions that play."""
        return self.build / "client-layer"

    @property
    def client_sdk(self) -> Path:
        """The SDK's package in the repository: `clients/python/aicore_client`."""
        return self.root / "clients" / "python" / "aicore_client"

    @property
    def sagemaker_sdk(self) -> Path:
        """The `sagemaker` SDK (its core part), installed apart from the venv by `cdk/build_assets.py`."""
        return self.build / "sagemaker-sdk"

    @property
    def endpoints(self) -> Path:
        return self.root / "endpoints"

    @property
    def state_machines(self) -> Path:
        return self.root / "state_machines"

    def path(self, relative: str) -> Path:
        """A file or folder named relative to the repository (or, missing there, its stand-in)."""
        real = self.root / relative
        if not real.exists() and self.stand_ins is not None and (self.stand_ins / relative).exists():
            return self.stand_ins / relative
        return real

    def stamp(self, build: Path) -> Path:
        """Written after a build output is complete; holds the hash of what it was built from."""
        return build.with_name(f".{build.name}.stamp")
