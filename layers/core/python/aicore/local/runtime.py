"""`aicore local`: the whole backend on loopback — embedded AWS, the model, the gateway, the bus."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from aicore import aws
from aicore.auth import Caller, Role
from aicore.aws.signing_keys import SecretsManagerKeyVault, SsmKeyDirectory
from aicore.clock import GAME_CLOCK
from aicore.identity.keyring import set_up_keys
from aicore.identity.keys import SigningKey
from aicore.identity.tokens import TokenIssuer
from aicore.llm.embedding import Embedder
from aicore.local.analytics import AnalyticsFiles, default_folder
from aicore.local.budget import DEFAULT_DEADLINE_SCALE
from aicore.local.console import console_routes
from aicore.local.delivery import EventDelivery, StreamSink
from aicore.local.embed_engine import CandleEmbedder
from aicore.local.embedded_aws import (
    REGION,
    EmbeddedAws,
    StreamDelivery,
    create_analytics_rule,
    create_resources,
)
from aicore.local.faults import FaultPlan, admin_routes
from aicore.local.game_time import clock_routes
from aicore.local.gateway import Concurrency, Gateway, GatewayThread
from aicore.local.lambdas import REPO_ROOT, Lambdas
from aicore.local.model_server import (
    ChatEngine,
    LlamaEngine,
    ModelServerThread,
    local_embedding_endpoint_names,
    local_endpoint_names,
)
from aicore.local.persistence import Restored
from aicore.local.sagemaker_control import LocalHosting
from aicore.local.schedules import ScheduleTicker
from aicore.local.speech_server import SpeechServerThread
from aicore.local.step_functions import LambdaBridge, create_state_machines
from aicore.local.stopping import Deadline
from aicore.local.world_files import load_world_folder
from aicore.local.world_push import DEMO_WORLD, push_content
from aicore.observability import logger
from aicore.settings import Settings
from aicore.topology import TOPOLOGY, resource_environment

ENV = "local"
# The seed of the development signing key (ES256): tokens it signs are worthless outside
# `aicore local`, where it is the first current key, so `aicore token` (another process) signs
# tokens the runtime trusts.
LOCAL_KEY_SEED = os.environ.get("AICORE_LOCAL_JWT_SECRET", "aicore-local-development-key-not-a-secret")
LOCAL_DEPLOY_POLL_S = 1
STOP_TIMEOUT_S = 20.0


def development_key() -> SigningKey:
    return SigningKey.from_seed(LOCAL_KEY_SEED)


def local_issuer() -> TokenIssuer:
    defaults = Settings.model_fields
    return TokenIssuer(
        development_key(), str(defaults["jwt_issuer"].default), str(defaults["jwt_audience"].default)
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
    deadline_scale: float = DEFAULT_DEADLINE_SCALE  # the router's deadlines: the tiers' budgets times this
    data_dir: Path | None = None  # where tables and objects persist; None: in memory only
    concurrency: Concurrency = field(default_factory=Concurrency)
    # Which embedder new lore indexes are built with: the embed tier (the local model server) or
    # the static in-process one; `seed_lore`: the demo world's push includes its lore documents.
    knowledge_embedder: str = "embed"
    seed_lore: bool = True
    # More variables for the functions (tests: shorter token lifetimes, trusted issuers).
    environment: dict[str, str] = field(default_factory=dict)
    # Where the analytics events land (`aicore analytics query --dir`); None: `<data_dir>/analytics`,
    # or in memory a folder per port that each start empties (`aicore.local.analytics.default_folder`).
    analytics_dir: Path | None = None

    @property
    def analytics_folder(self) -> Path:
        if self.analytics_dir is not None:
            return self.analytics_dir
        if self.data_dir is not None:
            return self.data_dir / "analytics"
        if self.port:
            return default_folder(self.port)
        return Path(tempfile.mkdtemp(prefix="aicore-analytics-"))


LOCAL_AWS_READ_TIMEOUT_S = 60  # moto is slow under many concurrent transactions (aicore.aws.read_timeout_s)


@dataclass
class LocalRuntime:
    options: RuntimeOptions = field(default_factory=RuntimeOptions)
    engine: ChatEngine | None = None  # tests share one loaded model; by default, SmolLM2 via llama.cpp
    embedder: Embedder | None = None  # the embed tier's model; by default all-MiniLM-L6-v2 via candle
    started_in_s: float = 0.0
    restored: Restored | None = None  # what `--data-dir` brought back at start

    def __post_init__(self) -> None:
        self.aws = EmbeddedAws(self.options.aws_port, self.options.data_dir)
        engine = self.engine or LlamaEngine()
        self.faults = FaultPlan()  # faults on demand: tests, or POST /_aicore/faults on the model server
        self.hosting = LocalHosting.for_tiers(ENV, REPO_ROOT / "endpoints")  # what deployments change
        self.model = ModelServerThread(
            engine,
            local_endpoint_names(ENV),
            port=self.options.model_port,
            faults=self.faults,
            hosting=self.hosting,
            extra_routes=admin_routes(self.faults, local_endpoint_names(ENV)),
            embedder=self.embedder or CandleEmbedder(),
            embedding_endpoints=local_embedding_endpoint_names(ENV),
        )
        self.speech = SpeechServerThread()  # Polly (Piper) and Transcribe streaming (pocketsphinx)
        self.lambdas = Lambdas()
        self.console_token = local_token("player-1", "demo")
        gateway = Gateway(
            TOPOLOGY,
            self.lambdas,
            host=self.options.host,
            port=self.options.port,
            extra_routes=[*console_routes(self.console_token), *clock_routes(GAME_CLOCK)],
            concurrency=self.options.concurrency,
        )
        self.gateway = GatewayThread(gateway)
        self.delivery: EventDelivery | None = None
        self.analytics_folder = self.options.analytics_folder
        self.bridge = LambdaBridge(self.lambdas, ENV)
        self._saved_environment: dict[str, str | None] = {}
        self.schedules = ScheduleTicker(self.lambdas, ENV)

    def start(self) -> None:
        """Start every part; if one fails, what already started is stopped again before the error rises."""
        try:
            self._start()
        except BaseException:
            self.stop(timeout_s=5)
            raise

    def _start(self) -> None:
        started = time.perf_counter()
        logger.setLevel(self.options.log_level)
        aws_url = self.aws.start()
        model_url = self.model.start()
        self._export({"AWS_ENDPOINT_URL_POLLY": self.speech.start()})
        self._export({"AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING": self.speech.stream_url})
        self._export_environment(aws_url, model_url, f"http://{self.options.host}:{self.options.port}")
        deliveries = create_resources(aws_url, ENV)
        analytics_rule = create_analytics_rule(aws_url, ENV)
        self._set_up_signing_keys()
        self.restored = self.aws.restore()
        self.bridge.install()
        self._export(create_state_machines(aws_url, ENV))
        self.gateway.start()
        streams: list[tuple[StreamDelivery, StreamSink]] = []
        if analytics_rule is not None:  # emptied in memory only: gone at stop, as every other state
            fresh = self.options.data_dir is None and self.options.analytics_dir is None
            streams.append((analytics_rule, AnalyticsFiles(self.analytics_folder, empty_first=fresh).write))
        self.delivery = EventDelivery(self.lambdas, aws_url, deliveries, streams)
        self.delivery.start()
        self.push_demo_world()  # lore documents are indexed by their flows, in the background
        self.schedules.start()
        self.started_in_s = time.perf_counter() - started

    def push_demo_world(self) -> None:
        """Load `worlds/demo` as a studio would (`aicore world push`): through the world API."""
        content = load_world_folder(DEMO_WORLD)
        if not self.options.seed_lore:
            content = content.model_copy(update={"documents": ()})
        token = local_token("aicore-local-seed", content.world.world_id, (Role.STUDIO,))
        push_content(self.gateway.gateway.url, content, token)

    def _set_up_signing_keys(self) -> None:
        """What the deploy's custom resource does, with the development key as the first current key."""
        signing = TOPOLOGY.signing_keys
        if signing is not None:
            set_up_keys(
                SecretsManagerKeyVault(signing.secret_name(ENV)),
                SsmKeyDirectory(signing.public_parameter(ENV)),
                first_key=development_key,
            )

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> list[str]:
        """Stop every part within `timeout_s` in all, even with handlers busy; returns the parts
        that had to be abandoned (their threads are daemons, or pool workers nobody waits for)."""
        deadline = Deadline.after(timeout_s)
        late = [] if self.schedules.stop(deadline) else ["schedules"]
        if self.delivery is not None and not self.delivery.stop(deadline):
            late.append("event delivery")
        if not self.gateway.stop(deadline.left()):
            late.append("gateway")
        if not self.model.stop(deadline.left()):
            late.append("model server")
        if not self.speech.stop(deadline.left()):
            late.append("speech server")
        self.bridge.uninstall()
        if not self.aws.stop(deadline):
            late.append("moto")
        self._restore_environment()
        GAME_CLOCK.reset()
        return late

    def _export_environment(self, aws_url: str, model_url: str, gateway_url: str) -> None:
        """What Lambda's configuration gives each function in the cloud, pointed at loopback."""
        self._export(resource_environment(ENV))
        self._export(
            {
                "AWS_ENDPOINT_URL": aws_url,
                "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": model_url,
                "AWS_ENDPOINT_URL_SAGEMAKER": model_url,  # deployments: aicore.local.sagemaker_control
                "MODEL_DEADLINE_SCALE": str(self.options.deadline_scale),
                aws.READ_TIMEOUT_VARIABLE: str(LOCAL_AWS_READ_TIMEOUT_S),
                "KNOWLEDGE_EMBEDDER": self.options.knowledge_embedder,
                "MODEL_DEPLOY_POLL_S": str(LOCAL_DEPLOY_POLL_S),
                "SETTINGS_CACHE_S": "0",  # one process: a studio's change applies at the next request
                "CONNECTIONS_URL": gateway_url,
                "SERVICE_VERSION": service_version(),
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "MOTO_PORT": str(self.aws.port),
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": self.options.log_level,
                # SmolLM2 on a laptop reads prompts slowly: summaries see fewer new lines than silver's.
                "SESSION_SUMMARY_INPUT_TOKENS": "400",
                "SESSION_SUMMARY_TIMEOUT_S": "300",
                "SESSION_SUMMARY_MAX_TOKENS": "80",  # a short summary: a laptop CPU writes it in seconds
                **self.options.environment,
            }
        )
        self._saved_environment.setdefault("AWS_PROFILE", os.environ.pop("AWS_PROFILE", None))

    def _export(self, values: dict[str, str]) -> None:
        """Set process environment variables, remembering what was there for `stop`."""
        for key, value in values.items():
            self._saved_environment.setdefault(key, os.environ.get(key))
            os.environ[key] = value
        aws.forget_clients()  # a client made before would keep the old endpoint

    def _restore_environment(self) -> None:
        for key, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        aws.forget_clients()
        self._saved_environment.clear()


def service_version() -> str:
    """The installed aicore's version (what the cloud's `SERVICE_VERSION` says, from pyproject.toml)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aicore")
    except PackageNotFoundError:
        return "unknown"
