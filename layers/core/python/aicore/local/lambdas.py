"""Loads handlers by their real module path and invokes them the way Lambda does."""

from __future__ import annotations

import importlib.util
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from aicore.topology import TOPOLOGY, Function, Topology

REPO_ROOT = Path(__file__).resolve().parents[5]


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools and our handlers read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Lambdas:
    """Imports each function's handler module once (a cold start) and invokes it."""

    def __init__(self, topology: Topology = TOPOLOGY, root: Path = REPO_ROOT) -> None:
        self._topology = topology
        self._root = root
        self._modules: dict[str, ModuleType] = {}
        self._lock = threading.Lock()
        # An HTTP API's handler keeps the request on its module's resolver (Powertools), which one
        # Lambda container serves one at a time: here, one invocation at a time per HTTP function.
        self._one_at_a_time = {fn.name: threading.Lock() for fn in topology.all_functions if fn.http_routes}

    def module(self, fn: Function) -> ModuleType:
        with self._lock:
            if fn.name not in self._modules:
                path = self._root / fn.module_path
                spec = importlib.util.spec_from_file_location(f"aicore_fn_{fn.name.replace('-', '_')}", path)
                if spec is None or spec.loader is None:
                    raise ImportError(f"cannot load handler of {fn.name} from {path}")
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                self._modules[fn.name] = module
            return self._modules[fn.name]

    def invoke(self, name: str, event: dict[str, Any]) -> Any:
        fn = self._topology.function(name)
        handler = getattr(self.module(fn), fn.function_name)
        context = LambdaContext(fn.name, fn.memory_mb, fn.timeout_s)
        serial = self._one_at_a_time.get(fn.name)
        if serial is None:
            return handler(event, context)
        with serial:
            return handler(event, context)
