"""`aicore local`: the whole backend on loopback — embedded AWS, the model, the gateway, the bus."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from aicore.auth import Caller, Role
from aicore.local.console import console_routes
from aicore.local.delivery import EventDelivery
from aicore.local.embedded_aws import REGION, EmbeddedAws, create_resources
from aicore.local.gateway import Gateway, GatewayThread
from aicore.local.lambdas import Lambdas
from aicore.local.model_server import ChatEngine, LlamaEngine, ModelServerThread, local_endpoint_names
from aicore.local.seed import seed_world
from aicore.local.step_functions import LambdaBridge, create_state_machines
from aicore.observability import logger
from aicore.settings import Settings
from aicore.tokens import TokenIssuer
from aicore.topology import TOPOLOGY, physical_name, resource_environment
from aicore.world.store import DynamoWorldStore

ENV = "local"
# A development-only signing key: tokens it signs are worthless outside `aicore local`.
LOCAL_JWT_SECRET = os.environ.get("AICORE_LOCAL_JWT_SECRET", "aicore-local-development-key-not-a-secret")


def local_issuer() -> TokenIssuer:
    defaults = Settings.model_fields
    return TokenIssuer(
        LOCAL_JWT_SECRET, str(defaults["jwt_issuer"].default), str(defaults["jwt_audience"].default)
    )


def local_token(player: str, world: str, roles: tuple[Role, ...] = (Role.PLAYER,)) -> str:
    return local_issuer().issue(Caller(subject=player, world_id=world, roles=roles))


@dataclass
class RuntimeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    model_port: int = 0
    aws_port: int | None = None
    log_level: str = "WARNING"


@dataclass
class LocalRuntime:
    options: RuntimeOptions = field(default_factory=RuntimeOptions)
    engine: ChatEngine | None = None  # tests share one loaded model; by default, SmolLM2 via llama.cpp
    started_in_s: float = 0.0

    def __post_init__(self) -> None:
        self.aws = EmbeddedAws(self.options.aws_port)
        engine = self.engine or LlamaEngine()
        self.model = ModelServerThread(engine, local_endpoint_names(ENV), port=self.options.model_port)
        self.lambdas = Lambdas()
        self.console_token = local_token("player-1", "demo")
        gateway = Gateway(
            TOPOLOGY,
            self.lambdas,
            host=self.options.host,
            port=self.options.port,
            extra_routes=console_routes(self.console_token),
        )
        self.gateway = GatewayThread(gateway)
        self.delivery: EventDelivery | None = None
        self.bridge = LambdaBridge(self.lambdas, ENV)

    def start(self) -> None:
        started = time.perf_counter()
        logger.setLevel(self.options.log_level)
        aws_url = self.aws.start()
        model_url = self.model.start()
        self._export_environment(aws_url, model_url, f"http://{self.options.host}:{self.options.port}")
        deliveries = create_resources(aws_url, ENV)
        self.bridge.install()
        os.environ.update(create_state_machines(aws_url, ENV))
        seed_world(DynamoWorldStore(physical_name(ENV, "world")))
        self.gateway.start()
        self.delivery = EventDelivery(self.lambdas, aws_url, deliveries)
        self.delivery.start()
        self.started_in_s = time.perf_counter() - started

    def stop(self) -> None:
        if self.delivery is not None:
            self.delivery.stop()
        self.gateway.stop()
        self.model.stop()
        self.bridge.uninstall()
        self.aws.stop()

    def _export_environment(self, aws_url: str, model_url: str, gateway_url: str) -> None:
        """What Lambda's configuration gives each function in the cloud, pointed at loopback."""
        os.environ.update(resource_environment(ENV))
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": aws_url,
                "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": model_url,
                "CONNECTIONS_URL": gateway_url,
                "JWT_SECRET": LOCAL_JWT_SECRET,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "MOTO_PORT": str(self.aws.port),
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": self.options.log_level,
            }
        )
        os.environ.pop("AWS_PROFILE", None)
