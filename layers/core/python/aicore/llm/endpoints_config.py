"""Serving settings of each model tier, read from `endpoints/<tier>.json`.

Data only: `cdk/` turns a config into a SageMaker model, endpoint and inference component; the
local model server reads the same files. Per-environment instance counts and scaling bounds are
not here: they live in `cdk.json` context.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSource(_Frozen):
    """Where the weights come from: a Hugging Face model id, or a copy of it in S3."""

    hf_model_id: str = Field(min_length=1)
    revision: str | None = None
    s3_uri: str | None = Field(default=None, pattern=r"^s3://[^/]+/.+")


class ImageSpec(_Frozen):
    """Arguments of `sagemaker.image_uris.retrieve` that pick the serving container."""

    framework: str = Field(min_length=1)  # e.g. "djl-lmi": the LMI container
    version: str = Field(min_length=1)


class EngineSettings(_Frozen):
    """How the container serves the model."""

    engine: Literal["vllm", "lmi-dist", "tei"] = "vllm"  # tei: Text Embeddings Inference
    quantization: Literal["awq", "gptq", "fp8"] | None = None
    dtype: Literal["fp16", "bf16", "fp32", "auto"] = "fp16"
    max_model_len: int = Field(gt=0)  # context length in tokens
    max_batch_size: int = Field(gt=0)  # concurrent sequences per model copy
    tensor_parallel_degree: int = Field(default=1, gt=0)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)


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
    instance_type: str = Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
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

    def container_environment(self) -> dict[str, str]:
        """The serving container's environment for this tier's model and engine."""
        return container_environment(self.model, self.engine)


def container_environment(model: ModelSource, engine: EngineSettings) -> dict[str, str]:
    """What the serving container reads: the LMI container's `OPTION_*`, or Text Embeddings Inference's.

    One function for every model the platform hosts: the tier's initial model (`cdk/`) and each
    version registered later (`aicore.llm.registry`), so both are configured the same way.
    """
    env = {"HF_MODEL_ID": model.s3_uri or model.hf_model_id}
    if engine.engine == "tei":
        env["MAX_CLIENT_BATCH_SIZE"] = str(engine.max_batch_size)
        env["AUTO_TRUNCATE"] = "true"
        if model.revision:
            env["HF_MODEL_REVISION"] = model.revision
        return env
    env |= {
        "OPTION_ROLLING_BATCH": engine.engine,
        "OPTION_MAX_ROLLING_BATCH_SIZE": str(engine.max_batch_size),
        "OPTION_MAX_MODEL_LEN": str(engine.max_model_len),
        "OPTION_DTYPE": engine.dtype,
        "OPTION_GPU_MEMORY_UTILIZATION": str(engine.gpu_memory_utilization),
        "TENSOR_PARALLEL_DEGREE": str(engine.tensor_parallel_degree),
    }
    if engine.quantization:
        env["OPTION_QUANTIZE"] = engine.quantization
    if model.revision:
        env["OPTION_REVISION"] = model.revision
    return env


def load_endpoint(path: Path) -> EndpointConfig:
    config = EndpointConfig.model_validate_json(path.read_text(encoding="utf-8"))
    if config.tier != path.name.removesuffix(".json"):
        raise ValueError(f"{path}: tier {config.tier!r} does not match the file name")
    return config


def load_endpoints(directory: Path) -> dict[str, EndpointConfig]:
    """Every `<tier>.json` in `directory`, by tier."""
    return {c.tier: c for c in (load_endpoint(p) for p in sorted(directory.glob("*.json")))}
