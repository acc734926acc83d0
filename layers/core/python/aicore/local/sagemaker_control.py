"""A local stand-in for the part of the SageMaker control plane that model deployment uses.

moto 5.2.5 has `CreateModel`, `CreateEndpointConfig` and `DescribeEndpoint`, but neither
`UpdateEndpoint` nor inference components, and what it records could not change what answers
an invocation anyway. So the local model server also answers these SageMaker calls (JSON 1.1,
`X-Amz-Target: SageMaker.<Operation>`, at `AWS_ENDPOINT_URL_SAGEMAKER`), and what they deploy is
what it serves: boto3 code runs unchanged against it.

- `CreateModel`, `DescribeModel`, `DeleteModel`: models, with their container and environment.
- `DescribeInferenceComponent`, `UpdateInferenceComponent`: one component per model tier,
  created at start from `endpoints/<tier>.json`. An update is `Updating` for `update_s`, then
  the new model serves, or, where its container settings cannot start, the old one keeps
  serving and `FailureReason` says why (as SageMaker rolls a failed update back).

Every model is run by the one local engine (SmolLM2); what a model's environment changes is
what the serving container would enforce: its context length (`OPTION_MAX_MODEL_LEN`) and its
batch size (`OPTION_MAX_ROLLING_BATCH_SIZE`).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from aicore.llm.endpoints_config import EndpointConfig, load_endpoints
from aicore.topology import TOPOLOGY, Topology, resource_environment

JSON_11 = "application/x-amz-json-1.1"
ARN_PREFIX = "arn:aws:sagemaker:us-east-1:123456789012"
NAME = re.compile(r"^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$")
VARIANT = "AllTraffic"

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class ServingLimits:
    """What a serving container enforces on each request, from its environment."""

    max_model_len: int
    max_batch_size: int


def limits_from_environment(environment: Mapping[str, str]) -> ServingLimits:
    """The limits a container with this environment would serve with; ValueError if it could not start."""
    if not environment.get("HF_MODEL_ID"):
        raise ValueError("the container environment names no model (HF_MODEL_ID)")
    try:
        limits = ServingLimits(
            max_model_len=int(environment.get("OPTION_MAX_MODEL_LEN", "4096")),
            max_batch_size=int(environment.get("OPTION_MAX_ROLLING_BATCH_SIZE", "32")),
        )
    except ValueError as error:
        raise ValueError(f"a container setting is not a number: {error}") from None
    if limits.max_model_len < 1 or limits.max_batch_size < 1:
        raise ValueError("OPTION_MAX_MODEL_LEN and OPTION_MAX_ROLLING_BATCH_SIZE must be positive")
    return limits


class ControlPlaneError(Exception):
    """An error answered as SageMaker's JSON protocol does: `__type` and `message`."""

    def __init__(self, message: str, code: str = "ValidationException", status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status

    def response(self) -> web.Response:
        body = {"__type": self.code, "message": str(self)}
        return web.Response(status=self.status, body=json.dumps(body).encode(), content_type=JSON_11)


@dataclass
class _Model:
    name: str
    container: JsonObject
    role_arn: str | None
    created: float

    @property
    def environment(self) -> dict[str, str]:
        return dict(self.container.get("Environment") or {})


@dataclass
class _Component:
    name: str
    endpoint: str
    model_name: str
    specification: JsonObject
    runtime: JsonObject
    created: float
    modified: float
    status: str = "InService"
    failure: str | None = None
    pending_model: str | None = None
    ready_at: float = 0.0


@dataclass
class LocalHosting:
    """Models and inference components, by name; thread-safe (the server and tests share it)."""

    update_s: float = 0.2
    clock: Callable[[], float] = time.time
    _models: dict[str, _Model] = field(default_factory=dict)
    _components: dict[str, _Component] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def for_tiers(
        cls, env: str, endpoints_dir: Path, topology: Topology = TOPOLOGY, **options: Any
    ) -> LocalHosting:
        """One component per model tier of `env`, serving the model its `endpoints/<tier>.json` names."""
        hosting = cls(**options)
        configs = load_endpoints(endpoints_dir)
        names = resource_environment(env, topology)
        for tier in topology.model_tiers:
            if tier.name in configs:
                hosting.add_component(names[tier.env_var], names[tier.component_env_var], configs[tier.name])
        return hosting

    def add_component(self, endpoint: str, component: str, config: EndpointConfig) -> None:
        now = self.clock()
        model = _Model(
            name=f"{component}-initial",
            container={
                "Image": f"local/{config.image.framework}:{config.image.version}",
                "Environment": config.container_environment(),
            },
            role_arn=f"arn:aws:iam::123456789012:role/{component}-model",
            created=now,
        )
        resources = config.resources
        with self._lock:
            self._models[model.name] = model
            self._components[component] = _Component(
                name=component,
                endpoint=endpoint,
                model_name=model.name,
                specification={
                    "ComputeResourceRequirements": {
                        "NumberOfCpuCoresRequired": resources.cpu_cores,
                        "NumberOfAcceleratorDevicesRequired": resources.accelerators,
                        "MinMemoryRequiredInMb": resources.min_memory_mb,
                    },
                    "StartupParameters": {
                        "ModelDataDownloadTimeoutInSeconds": config.download_timeout_s,
                        "ContainerStartupHealthCheckTimeoutInSeconds": config.startup_timeout_s,
                    },
                },
                runtime={"DesiredCopyCount": 1, "CurrentCopyCount": 1},
                created=now,
                modified=now,
            )

    def limits(self, endpoint: str, component: str | None) -> ServingLimits | None:
        """What the model serving `component` (or the endpoint's only one) enforces; None: no component."""
        with self._lock:
            found = self._component_for(endpoint, component)
            if found is None:
                return None
            self._settle(found)
            return limits_from_environment(self._models[found.model_name].environment)

    def serving_model(self, component: str) -> str:
        with self._lock:
            found = self._require_component(component)
            self._settle(found)
            return found.model_name

    # --- the SageMaker API ---------------------------------------------------------------------

    async def handle_request(self, request: web.Request) -> web.Response:
        service, _, operation = request.headers.get("X-Amz-Target", "").partition(".")
        try:
            if service != "SageMaker":
                raise ControlPlaneError(f"Unknown target {service!r}", "UnknownOperationException")
            body = json.loads(await request.read() or b"{}")
            result = self.handle(operation, body)
        except ControlPlaneError as error:
            return error.response()
        return web.Response(body=json.dumps(result).encode(), content_type=JSON_11)

    def handle(self, operation: str, body: JsonObject) -> JsonObject:
        operations: dict[str, Callable[[JsonObject], JsonObject]] = {
            "CreateModel": self._create_model,
            "DescribeModel": self._describe_model,
            "DeleteModel": self._delete_model,
            "DescribeInferenceComponent": self._describe_component,
            "UpdateInferenceComponent": self._update_component,
        }
        if operation not in operations:
            raise ControlPlaneError(
                f"The local SageMaker does not implement {operation}", "UnknownOperationException"
            )
        with self._lock:
            return operations[operation](body)

    def _create_model(self, body: JsonObject) -> JsonObject:
        name = _valid_name(body.get("ModelName"), "ModelName")
        if name in self._models:
            raise ControlPlaneError(f'Cannot create already existing model "{_model_arn(name)}".')
        container = body.get("PrimaryContainer")
        if not isinstance(container, dict) or not container.get("Image"):
            raise ControlPlaneError("PrimaryContainer.Image is required.")
        self._models[name] = _Model(name, container, body.get("ExecutionRoleArn"), self.clock())
        return {"ModelArn": _model_arn(name)}

    def _describe_model(self, body: JsonObject) -> JsonObject:
        model = self._require_model(body.get("ModelName"))
        described: JsonObject = {
            "ModelName": model.name,
            "PrimaryContainer": model.container,
            "CreationTime": model.created,
            "ModelArn": _model_arn(model.name),
        }
        if model.role_arn:
            described["ExecutionRoleArn"] = model.role_arn
        return described

    def _delete_model(self, body: JsonObject) -> JsonObject:
        model = self._require_model(body.get("ModelName"))
        if any(model.name in (c.model_name, c.pending_model) for c in self._components.values()):
            raise ControlPlaneError(f"Model {model.name} is in use by an inference component.")
        del self._models[model.name]
        return {}

    def _describe_component(self, body: JsonObject) -> JsonObject:
        component = self._require_component(body.get("InferenceComponentName"))
        self._settle(component)
        described: JsonObject = {
            "InferenceComponentName": component.name,
            "InferenceComponentArn": f"{ARN_PREFIX}:inference-component/{component.name}",
            "EndpointName": component.endpoint,
            "EndpointArn": f"{ARN_PREFIX}:endpoint/{component.endpoint}",
            "VariantName": VARIANT,
            "Specification": {"ModelName": component.model_name, **component.specification},
            "RuntimeConfig": component.runtime,
            "CreationTime": component.created,
            "LastModifiedTime": component.modified,
            "InferenceComponentStatus": component.status,
        }
        if component.failure:
            described["FailureReason"] = component.failure
        return described

    def _update_component(self, body: JsonObject) -> JsonObject:
        component = self._require_component(body.get("InferenceComponentName"))
        self._settle(component)
        if component.status != "InService":
            raise ControlPlaneError(
                f"Inference component {component.name} is {component.status}: wait until it is InService."
            )
        specification = dict(body.get("Specification") or {})
        model_name = specification.pop("ModelName", component.model_name)
        self._require_model(model_name)
        component.specification = specification or component.specification
        component.status, component.failure = "Updating", None
        component.pending_model, component.ready_at = model_name, self.clock() + self.update_s
        component.modified = self.clock()
        return {"InferenceComponentArn": f"{ARN_PREFIX}:inference-component/{component.name}"}

    # --- helpers -------------------------------------------------------------------------------

    def _settle(self, component: _Component) -> None:
        """Finishes an update whose time has come: the new model serves, or the old one stays."""
        if component.pending_model is None or self.clock() < component.ready_at:
            return
        model = self._models[component.pending_model]
        component.pending_model = None
        component.status = "InService"
        try:
            limits_from_environment(model.environment)
        except ValueError as error:
            component.failure = f"Model {model.name} failed to start: {error}. Rolled back."
            return
        component.model_name = model.name

    def _component_for(self, endpoint: str, component: str | None) -> _Component | None:
        if component is not None:
            found = self._components.get(component)
            if found is None or found.endpoint != endpoint:
                raise ControlPlaneError(
                    f"Inference component {component} is not on endpoint {endpoint}.", "ValidationError"
                )
            return found
        return next((c for c in self._components.values() if c.endpoint == endpoint), None)

    def _require_model(self, name: object) -> _Model:
        model = self._models.get(str(name))
        if model is None:
            raise ControlPlaneError(f'Could not find model "{_model_arn(str(name))}".')
        return model

    def _require_component(self, name: object) -> _Component:
        component = self._components.get(str(name))
        if component is None:
            raise ControlPlaneError(f'Could not find inference component "{name}".')
        return component


def _model_arn(name: str) -> str:
    return f"{ARN_PREFIX}:model/{name.lower()}"


def _valid_name(name: object, field_name: str) -> str:
    if not isinstance(name, str) or len(name) > 63 or not NAME.match(name):
        raise ControlPlaneError(
            f"{field_name} {name!r} must be 1-63 letters, digits and hyphens, starting and ending "
            "with a letter or digit."
        )
    return name
