"""Serving settings of each model tier, read from `endpoints/<tier>.json`.

Data only: `cdk/` turns a config into a SageMaker model, endpoint and inference component; the
local model server reads the same files. Per-environment instance counts and scaling bounds are
not here: they live in `cdk.json` context. `endpoints/options/` holds documented alternatives
(same format, not deployed): copy one over a tier's file to serve it.

Weights are never fetched from a public hub by a serving container: every model names a pinned
revision (a 40-hex commit), the model registry's import flow copies that revision into the
environment's models bucket (`staged_prefix`), SageMaker copies it from there into the container's
`/opt/ml/model`, and the container runs with network isolation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Where SageMaker puts a model's S3 data (ModelDataSource, uncompressed) inside its container;
# the LMI container and Text Embeddings Inference both take it as HF_MODEL_ID.
CONTAINER_MODEL_DIR = "/opt/ml/model"
# A git commit of the model's repository on the hub: the only revision a tier may name.
COMMIT_PATTERN = r"^[0-9a-f]{40}$"

# ProductionVariant.InferenceAmiVersion (botocore's SageMaker model, boto3 1.44): the NVIDIA
# driver and the newest CUDA each GPU AMI runs. A container built for CUDA X.Y needs an AMI whose
# CUDA is X.Y or newer (a newer driver runs older CUDA; the -1 AMIs disable CUDA-compat mounting).
GpuAmi = Literal[
    "al2-ami-sagemaker-inference-gpu-2",
    "al2-ami-sagemaker-inference-gpu-2-1",
    "al2-ami-sagemaker-inference-gpu-3-1",
    "al2023-ami-sagemaker-inference-gpu-4-1",
]
GPU_AMI_CUDA: dict[str, tuple[int, int]] = {
    "al2-ami-sagemaker-inference-gpu-2": (12, 2),  # driver 535
    "al2-ami-sagemaker-inference-gpu-2-1": (12, 2),  # driver 535
    "al2-ami-sagemaker-inference-gpu-3-1": (12, 4),  # driver 550
    "al2023-ami-sagemaker-inference-gpu-4-1": (13, 0),  # driver 580
}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Licence(_Frozen):
    """The model's licence, as its model card states it: what a studio may do with it."""

    name: str = Field(min_length=1, max_length=80)  # an SPDX id where one exists, e.g. "Apache-2.0"
    commercial_use: bool  # may a studio ship a game that uses it
    url: str = Field(pattern=r"^https://\S+$")


class ModelSource(_Frozen):
    """Which weights: a model on the Hugging Face hub at one pinned commit."""

    hf_model_id: str = Field(min_length=3, max_length=96, pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
    revision: str = Field(pattern=COMMIT_PATTERN)

    @property
    def staged_prefix(self) -> str:
        """Key prefix of the staged copy in the environment's models bucket (ends with '/')."""
        return f"hf/{self.hf_model_id}/{self.revision}/"

    @property
    def manifest_key(self) -> str:
        """What the import flow copied, with sizes and hashes (beside the prefix, not inside it)."""
        return f"hf/{self.hf_model_id}/{self.revision}.manifest.json"


class ImageSpec(_Frozen):
    """Arguments of `sagemaker.image_uris.retrieve` that pick the serving container."""

    framework: str = Field(min_length=1)  # e.g. "djl-lmi": the LMI container
    version: str = Field(min_length=1)


class EngineSettings(_Frozen):
    """How the container serves the model.

    `quantization` says how the checkpoint is already quantized (AWQ, GPTQ, FP8 weights). It is
    never passed to the container: vLLM reads it from the checkpoint's config and picks its fastest
    kernels (AWQ runs as awq_marlin); forcing it limits those optimizations (LMI's vLLM guide, vLLM
    issue 21376: up to 5x slower). `runtime_quantization` quantizes full-precision weights while
    loading (`OPTION_QUANTIZE`); LMI supports fp8 that way.
    """

    engine: Literal["vllm", "lmi-dist", "tei"] = "vllm"  # tei: Text Embeddings Inference
    quantization: Literal["awq", "gptq", "fp8"] | None = None
    runtime_quantization: Literal["fp8"] | None = None
    dtype: Literal["fp16", "bf16", "fp32", "auto"] = "fp16"
    max_model_len: int = Field(gt=0)  # context length in tokens
    max_batch_size: int = Field(gt=0)  # concurrent sequences per model copy
    tensor_parallel_degree: int = Field(default=1, gt=0)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)

    @model_validator(mode="after")
    def _one_quantization(self) -> EngineSettings:
        if self.quantization and self.runtime_quantization:
            raise ValueError(
                "a pre-quantized checkpoint (quantization) cannot be quantized again at load "
                "(runtime_quantization): set one of them"
            )
        return self


class ComputeResources(_Frozen):
    """What one copy of the model reserves on its instance (an inference component's requirements)."""

    accelerators: int = Field(ge=0)  # 0: a CPU instance
    min_memory_mb: int = Field(gt=0)
    cpu_cores: float = Field(gt=0)


class ScalingTargets(_Frozen):
    """Target tracking: what one model copy should carry. Bounds per environment are in cdk.json."""

    invocations_per_copy_per_minute: int = Field(gt=0)
    concurrent_requests_per_copy: int = Field(gt=0)
    scale_in_cooldown_s: int = Field(default=600, ge=0)
    scale_out_cooldown_s: int = Field(default=60, ge=0)


class EndpointConfig(_Frozen):
    tier: str = Field(pattern=r"^[a-z][a-z0-9]*$")
    description: str
    model: ModelSource
    licence: Licence
    instance_type: str = Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    # The GPU host image (NVIDIA driver, CUDA) of the instances; None on CPU instances.
    inference_ami_version: GpuAmi | None = None
    image: ImageSpec
    engine: EngineSettings
    resources: ComputeResources
    scaling: ScalingTargets
    latency_budget_ms: int = Field(gt=0)  # to the first token, for the router and the alarms
    startup_timeout_s: int = Field(default=900, ge=60, le=3600)
    download_timeout_s: int = Field(default=900, ge=60, le=3600)

    @model_validator(mode="after")
    def _batch_fits(self) -> EndpointConfig:
        if self.scaling.concurrent_requests_per_copy > self.engine.max_batch_size:
            raise ValueError(
                f"{self.tier}: scaling.concurrent_requests_per_copy "
                f"({self.scaling.concurrent_requests_per_copy}) exceeds engine.max_batch_size "
                f"({self.engine.max_batch_size}); requests past the batch would only queue"
            )
        return self

    @model_validator(mode="after")
    def _ami_matches_the_instance(self) -> EndpointConfig:
        gpu = self.resources.accelerators > 0
        if gpu and self.inference_ami_version is None:
            raise ValueError(
                f"{self.tier}: a GPU tier pins its inference_ami_version (the NVIDIA driver and CUDA "
                f"its container needs): one of {', '.join(GPU_AMI_CUDA)}"
            )
        if not gpu and self.inference_ami_version is not None:
            raise ValueError(f"{self.tier}: inference_ami_version is for GPU instances only")
        return self

    def container_environment(self) -> dict[str, str]:
        """The serving container's environment for this tier's model and engine."""
        return container_environment(self.engine)


def container_environment(engine: EngineSettings) -> dict[str, str]:
    """What the serving container reads: the LMI container's `OPTION_*`, or Text Embeddings Inference's.

    One function for every model the platform hosts: the tier's initial model (`cdk/`) and each
    version registered later (`aicore.modelops`), so both are configured the same way. The weights
    are always the staged copy SageMaker puts in `/opt/ml/model`: no hub id, no revision here.
    """
    env = {"HF_MODEL_ID": CONTAINER_MODEL_DIR}
    if engine.engine == "tei":
        env["MAX_CLIENT_BATCH_SIZE"] = str(engine.max_batch_size)
        env["AUTO_TRUNCATE"] = "true"
        return env
    env |= {
        "OPTION_ROLLING_BATCH": engine.engine,
        "OPTION_MAX_ROLLING_BATCH_SIZE": str(engine.max_batch_size),
        "OPTION_MAX_MODEL_LEN": str(engine.max_model_len),
        "OPTION_DTYPE": engine.dtype,
        "OPTION_GPU_MEMORY_UTILIZATION": str(engine.gpu_memory_utilization),
        "TENSOR_PARALLEL_DEGREE": str(engine.tensor_parallel_degree),
    }
    if engine.runtime_quantization:
        env["OPTION_QUANTIZE"] = engine.runtime_quantization
    return env


def load_endpoint(path: Path) -> EndpointConfig:
    config = EndpointConfig.model_validate_json(path.read_text(encoding="utf-8"))
    if config.tier != path.name.removesuffix(".json"):
        raise ValueError(f"{path}: tier {config.tier!r} does not match the file name")
    return config


def load_endpoints(directory: Path) -> dict[str, EndpointConfig]:
    """Every `<tier>.json` in `directory` (not its `options/`), by tier."""
    return {c.tier: c for c in (load_endpoint(p) for p in sorted(directory.glob("*.json")))}


def load_options(directory: Path) -> dict[str, EndpointConfig]:
    """The documented alternatives in `directory/options/<name>.json`, by file name."""
    return {
        p.name.removesuffix(".json"): EndpointConfig.model_validate_json(p.read_text(encoding="utf-8"))
        for p in sorted((directory / "options").glob("*.json"))
    }


def non_commercial(configs: dict[str, EndpointConfig]) -> dict[str, EndpointConfig]:
    """The configs whose model's licence does not allow a studio to ship it."""
    return {name: c for name, c in configs.items() if not c.licence.commercial_use}
