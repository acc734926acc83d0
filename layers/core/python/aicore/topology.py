"""The one declarative description of aicore: every function, what triggers it, what it touches.

Pure data. `cdk/` turns it into AWS resources and grants; `aicore.local` turns it into an
in-process dispatcher. Add a function here and it exists in both worlds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

SERVICE = "aicore"


class Access(StrEnum):
    READ = "read"
    WRITE = "write"
    READ_WRITE = "read_write"


@dataclass(frozen=True)
class Index:
    """A global secondary index: string keys, projecting the table's keys (KEYS_ONLY) and the
    attributes named in `include` (INCLUDE), if any.

    Sparse by design: an item without the index's partition key is not in the index.
    """

    name: str
    partition_key: str
    sort_key: str | None = None
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """A DynamoDB table (on demand). Keys are strings named `pk`/`sk` unless said otherwise."""

    name: str
    description: str
    partition_key: str = "pk"
    sort_key: str | None = "sk"
    ttl_attribute: str | None = None
    indexes: tuple[Index, ...] = ()

    @property
    def env_var(self) -> str:
        return f"{self.name.upper()}_TABLE"


@dataclass(frozen=True)
class Bucket:
    """An S3 bucket (private, encrypted, TLS only, versioned).

    `cold_storage`: objects move to cheaper classes as they age (for what is read rarely);
    `scratch_prefixes`: objects under these prefixes are intermediate results and expire.
    """

    name: str
    description: str
    # Objects are written once and rarely read again: they move to colder storage classes
    # (cdk.json `archive`). Otherwise they stay in S3 Standard (e.g. weights read at every start).
    archival: bool = False
    scratch_prefixes: tuple[str, ...] = ()
    # Every object expires this many days after it is written (reports, not records).
    expire_after_days: int | None = None
    # Grants on this bucket are GetObject/PutObject on keys under this prefix only (no list, no delete).
    objects_prefix: str | None = None

    @property
    def env_var(self) -> str:
        return f"{self.name.upper().replace('-', '_')}_BUCKET"


@dataclass(frozen=True)
class EventBus:
    name: str = "events"
    env_var: str = "EVENT_BUS_NAME"


@dataclass(frozen=True)
class ModelTier:
    """A SageMaker real-time endpoint; its serving settings live in endpoints/<name>.json."""

    name: str

    @property
    def env_var(self) -> str:
        return f"{self.name.upper()}_ENDPOINT"

    @property
    def component_env_var(self) -> str:
        """The inference component serving this tier: `InvokeEndpoint`'s `InferenceComponentName`."""
        return f"{self.name.upper()}_INFERENCE_COMPONENT"

    def serving_parameter(self, env: str) -> str:
        """SSM parameter naming the SageMaker model this tier serves: the registry writes it,
        CloudFormation reads it (one owner for which model a tier serves)."""
        return f"/{SERVICE}/{env}/model-tiers/{self.name}/serving-model"


@dataclass(frozen=True)
class SigningKeys:
    """The keys that sign access tokens: the private key set in a Secrets Manager secret, the public
    keys in an SSM parameter (what verifiers read; they never see a private key)."""

    name: str = "signing-keys"
    secret_env_var: str = "SIGNING_KEYS_SECRET"
    parameter_env_var: str = "PUBLIC_KEYS_PARAMETER"

    def secret_name(self, env: str) -> str:
        return physical_name(env, self.name)

    def public_parameter(self, env: str) -> str:
        return f"/{SERVICE}/{env}/identity/public-keys"


@dataclass(frozen=True)
class Secret:
    """A Secrets Manager secret an operator fills (e.g. a payment provider's webhook signing secret);
    functions that declare it may read it (GetSecretValue) and get its name in `env_var`."""

    name: str
    description: str
    env_var: str

    def secret_name(self, env: str) -> str:
        return physical_name(env, self.name)


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str  # API Gateway syntax: /sessions/{id}
    # False: no authorizer (logins, the JWKS, status): cdk throttles these routes on their own.
    authorized: bool = True

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class EventRule:
    """An EventBridge rule on the bus; `detail_types` and `source` form the pattern."""

    name: str
    source: str
    detail_types: tuple[str, ...]

    @property
    def pattern(self) -> dict[str, Any]:
        return {"source": [self.source], "detail-type": list(self.detail_types)}


@dataclass(frozen=True)
class Schedule:
    name: str
    rate_minutes: int

    @property
    def expression(self) -> str:
        unit = "minute" if self.rate_minutes == 1 else "minutes"
        return f"rate({self.rate_minutes} {unit})"


@dataclass(frozen=True)
class StateMachine:
    """A Step Functions state machine; its ASL is `definition` (default `state_machines/<name>.asl.json`).

    The ASL may use `${PLACEHOLDERS}`: every key of `resource_environment` (table, bucket, bus and
    endpoint names) and every function's `arn_variable`. The state machine may touch only what
    it declares here, like a function: the functions it invokes, tables, buckets, events, tiers.
    """

    name: str
    description: str
    invokes: tuple[str, ...] = ()  # function names (functions are declared after the machines they use)
    tables: tuple[tuple[Table, Access], ...] = ()
    buckets: tuple[tuple[Bucket, Access], ...] = ()
    publishes_events: bool = False
    model_tiers: tuple[ModelTier, ...] = ()
    express: bool = False
    # Runs a Distributed Map: it starts, describes and stops child executions of itself.
    distributed_map: bool = False
    definition: str | None = None

    @property
    def definition_path(self) -> str:
        """File of the ASL definition, relative to the repository root."""
        return self.definition or f"state_machines/{self.name}.asl.json"

    @property
    def env_var(self) -> str:
        """Environment variable with this state machine's ARN, given to functions that start it."""
        return f"{self.name.upper().replace('-', '_')}_STATE_MACHINE_ARN"


@dataclass(frozen=True)
class Function:
    """One Lambda function. `code` is its folder; `handler` is `module.function` inside it."""

    name: str
    description: str
    code: str
    handler: str = "handler.handler"
    memory_mb: int = 512
    timeout_s: int = 30
    http_routes: tuple[HttpRoute, ...] = ()
    websocket_routes: tuple[str, ...] = ()
    events: tuple[EventRule, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    tables: tuple[tuple[Table, Access], ...] = ()
    buckets: tuple[tuple[Bucket, Access], ...] = ()
    publishes_events: bool = False
    model_tiers: tuple[ModelTier, ...] = ()
    pushes_to_clients: bool = False
    # The token-signing keys: READ signs with the current key, READ_WRITE also rotates (and publishes).
    signing_keys: Access | None = None
    # The published public keys (verifies access tokens).
    reads_public_keys: bool = False
    # Secrets it reads (GetSecretValue on exactly these).
    secrets: tuple[Secret, ...] = ()
    # Describes (never reads or writes) every table, the bus and each tier's endpoint: health checks.
    observes_health: bool = False
    # states:StartExecution; gets <NAME>_STATE_MACHINE_ARN
    starts_state_machines: tuple[StateMachine, ...] = ()
    # Model deployment on these tiers (SageMaker control plane): create and describe models, describe
    # and update the tier's inference component, and pass the tier's model execution role to SageMaker.
    manages_model_tiers: tuple[ModelTier, ...] = ()
    # states:DescribeExecution on executions of these machines (it must also start them).
    awaits_state_machines: tuple[StateMachine, ...] = ()
    # states:SendTaskSuccess: wakes these machines' executions waiting on a task token. IAM scopes
    # task-token actions by no resource, so the grant is on `*`: the token itself is the capability.
    signals_state_machines: tuple[StateMachine, ...] = ()
    # Each tier's serving-model parameter (`ModelTier.serving_parameter`): write puts or deletes it.
    serving_records: tuple[tuple[ModelTier, Access], ...] = ()
    # Concurrent executions reserved for this function at production scale (cdk.json's
    # `lambda.reserved_concurrency_factor` scales it per environment; 0 there: none reserved).
    # It is both a floor (a flood elsewhere cannot take them) and a ceiling (a flood here cannot
    # take more): a floor for the doors ($connect, the authorizer), a ceiling for npc.say.
    reserved_concurrency: int | None = None
    # New versions take traffic gradually through its `live` alias (CodeDeploy canary, rolled
    # back on errors); otherwise the alias moves at once. How gradually is per environment.
    gradual_deployment: bool = False
    # Embeds text in process with the static embedder (`aicore.llm.embedding.StaticEmbedder`): gets
    # the layer holding its weights and `AICORE_STATIC_EMBEDDINGS` naming where they are.
    static_embeddings: bool = False
    # Speaks NPC replies (`npc.audio`): polly:SynthesizeSpeech. Locally: `aicore local`'s Piper server.
    synthesizes_speech: bool = False
    # Hears the player's speech (`npc.listen`): transcribe:StartStreamTranscriptionWebSocket. Locally:
    # `aicore local`'s Transcribe-compatible WebSocket (pocketsphinx).
    transcribes_speech: bool = False
    # Plays as a game client: gets the layer with the Python SDK (`aicore_client`) and `websockets`.
    client_sdk: bool = False

    @property
    def arn_variable(self) -> str:
        """Placeholder for this function's ARN in state machine definitions: `${NPC_SAY_FUNCTION_ARN}`."""
        return f"{self.name.upper().replace('-', '_')}_FUNCTION_ARN"

    @property
    def module_path(self) -> str:
        """File of the handler module, relative to the repository root."""
        module, _ = self.handler.rsplit(".", 1)
        return f"{self.code}/{module.replace('.', '/')}.py"

    @property
    def function_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass(frozen=True)
class AnalyticsStream:
    """The events that go to the analytics store, listed once: one rule on the bus matches them.

    Cloud: the rule's target is a Kinesis Data Firehose stream writing JSON lines into `bucket`,
    by day, under a Glue table Athena queries. Locally: the same rule's events land in files by day
    (`aicore.local.analytics`), queried with DuckDB. Record shape: `aicore.analytics.records`.
    """

    name: str
    bucket: Bucket
    events: tuple[tuple[str, tuple[str, ...]], ...]  # (source, its detail types)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(source for source, _ in self.events)

    @property
    def detail_types(self) -> tuple[str, ...]:
        return tuple(detail_type for _, detail_types in self.events for detail_type in detail_types)

    @property
    def pattern(self) -> dict[str, Any]:
        """One rule over every source and detail type (a detail type has a single source, so the
        pattern's product of the two lists matches nothing more)."""
        return {"source": list(self.sources), "detail-type": list(self.detail_types)}


@dataclass(frozen=True)
class Topology:
    tables: tuple[Table, ...]
    buckets: tuple[Bucket, ...]
    bus: EventBus
    model_tiers: tuple[ModelTier, ...]
    authorizer: Function
    functions: tuple[Function, ...]
    signing_keys: SigningKeys | None = None
    event_sources: tuple[str, ...] = field(default=())
    secrets: tuple[Secret, ...] = field(default=())
    state_machines: tuple[StateMachine, ...] = field(default=())
    # WebSocket frames are routed on this (API Gateway syntax); binary frames go to $default.
    websocket_route_selection: str = "$request.body.action"
    analytics: AnalyticsStream | None = None

    def state_machine(self, name: str) -> StateMachine:
        return next(m for m in self.state_machines if m.name == name)

    def function(self, name: str) -> Function:
        for fn in self.all_functions:
            if fn.name == name:
                return fn
        raise KeyError(name)

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    def websocket_route(self, route_key: str) -> Function | None:
        return next((f for f in self.functions if route_key in f.websocket_routes), None)

    @property
    def http_routes(self) -> list[tuple[HttpRoute, Function]]:
        return [(route, fn) for fn in self.functions for route in fn.http_routes]

    @property
    def websocket_route_keys(self) -> list[str]:
        return [key for fn in self.functions for key in fn.websocket_routes]

    @property
    def all_functions(self) -> tuple[Function, ...]:
        return (self.authorizer, *self.functions)

    def problems(self) -> list[str]:
        """What is inconsistent: things declared but not in the topology, names used twice, cycles."""
        problems = _duplicates("function", [f.name for f in self.all_functions])
        problems += _duplicates("table", [t.name for t in self.tables])
        problems += _duplicates("state machine", [m.name for m in self.state_machines])
        problems += _duplicates("HTTP route", [r.route_key for r, _ in self.http_routes])
        problems += _duplicates("WebSocket route", self.websocket_route_keys)
        problems += _duplicates("event rule", [r.name for f in self.functions for r in f.events])
        problems += _duplicates("schedule", [s.name for f in self.functions for s in f.schedules])
        functions = {f.name for f in self.all_functions}
        declarations: tuple[Function | StateMachine, ...] = (*self.all_functions, *self.state_machines)
        for declared in declarations:
            problems += [
                f"{declared.name}: table {t.name!r} is not in the topology"
                for t, _ in declared.tables
                if t not in self.tables
            ]
            problems += [
                f"{declared.name}: bucket {b.name!r} is not in the topology"
                for b, _ in declared.buckets
                if b not in self.buckets
            ]
            problems += [
                f"{declared.name}: model tier {m.name!r} is not in the topology"
                for m in declared.model_tiers
                if m not in self.model_tiers
            ]
        for fn in self.all_functions:
            problems += [
                f"{fn.name}: secret {s.name!r} is not in the topology"
                for s in fn.secrets
                if s not in self.secrets
            ]
            if (fn.signing_keys or fn.reads_public_keys) and self.signing_keys is None:
                problems.append(f"{fn.name}: uses signing keys, and the topology has none")
            problems += [
                f"{fn.name}: model tier {m.name!r} is not in the topology"
                for m in (*fn.manages_model_tiers, *(t for t, _ in fn.serving_records))
                if m not in self.model_tiers
            ]
            problems += [
                f"{fn.name} awaits {m.name} without starting it"
                for m in fn.awaits_state_machines
                if m not in fn.starts_state_machines
            ]
            if fn.reserved_concurrency is not None and fn.reserved_concurrency < 1:
                problems.append(f"{fn.name}: reserved_concurrency must be at least 1 (or None)")
            for machine in fn.starts_state_machines:
                if machine not in self.state_machines:
                    problems.append(f"{fn.name}: state machine {machine.name!r} is not in the topology")
                elif fn.name in machine.invokes:
                    problems.append(
                        f"{fn.name} both starts and is invoked by {machine.name}: a dependency cycle"
                    )
        for machine in self.state_machines:
            problems += [f"{machine.name}: no function {f!r}" for f in machine.invokes if f not in functions]
        problems += self._tier_setup_problems()
        problems += self._analytics_problems()
        return problems

    def _analytics_problems(self) -> list[str]:
        if self.analytics is None:
            return []
        problems = (
            [] if self.analytics.bucket in self.buckets else ["analytics: its bucket is not in the topology"]
        )
        return problems + [
            f"analytics: source {source!r} is not in the topology's event sources"
            for source in self.analytics.sources
            if source not in self.event_sources
        ]

    def _tier_setup_problems(self) -> list[str]:
        """Every model tier needs the setup function, reading and writing its serving record."""
        if not self.model_tiers:
            return []
        setup = next((f for f in self.functions if f.name == MODEL_TIER_SETUP), None)
        if setup is None:
            return [
                f"model tiers need the {MODEL_TIER_SETUP} function (their CloudFormation custom resource)"
            ]
        recorded = {t for t, access in setup.serving_records if access == Access.READ_WRITE}
        return [
            f"{MODEL_TIER_SETUP} must read and write the serving record of tier {t.name!r}"
            for t in self.model_tiers
            if t not in recorded
        ]

    def check(self) -> None:
        """Raise with every problem at once (synth and a unit test call this)."""
        if problems := self.problems():
            raise ValueError("the topology is inconsistent:\n  " + "\n  ".join(problems))


def _duplicates(kind: str, names: list[str]) -> list[str]:
    seen: set[str] = set()
    twice = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    return [f"{kind} {name!r} is declared twice" for name in twice]


def scaled_reservation(reserved: int | None, factor: float) -> int | None:
    """A function's reserved concurrency in an environment: None (none reserved) or at least 1."""
    if reserved is None or factor == 0:
        return None
    return max(1, round(reserved * factor))


def physical_name(env: str, logical: str) -> str:
    """Name of a resource in an environment, e.g. `aicore-dev-sessions`."""
    return f"{SERVICE}-{env}-{logical}"


RW = Access.READ_WRITE
R = Access.READ

# Custom metrics (namespace SERVICE, dimensions `service`, ENVIRONMENT_DIMENSION and TIER_DIMENSION)
# that the dashboard and the alarms read: emitted by the NPC turn for each model call. Every custom
# metric carries the environment, so two environments in one account never mix.
ENVIRONMENT_DIMENSION = "environment"
TIER_DIMENSION = "tier"
FIRST_TOKEN_METRIC = "FirstTokenMs"
TOKENS_PER_SECOND_METRIC = "TokensPerSecond"
FALLBACK_METRIC = "Fallbacks"

NPC_SOURCE = "aicore.npc"
NPC_TURN_COMPLETED = "NPC Turn Completed"

SESSIONS_SOURCE = "aicore.sessions"
SESSION_COMPACTION_NEEDED = "Session Compaction Needed"
SESSION_REHYDRATION_REQUESTED = "Session Rehydration Requested"
# Live session heads by the day they were last active: the archive sweep finds dormant ones here.
SESSION_DORMANCY_INDEX = Index("dormancy", partition_key="dormancy_shard", sort_key="active_day")
SESSION_ARCHIVE_FLOW = "session-archive"
SESSION_REHYDRATE_FLOW = "session-rehydrate"
MODEL_DEPLOY_FLOW = "model-deploy"
MODEL_IMPORT_FLOW = "model-import"
# The function CloudFormation's per-tier custom resource runs (it records every tier's serving model),
# and the attribute its answer carries: the SageMaker model the tier's component serves.
MODEL_TIER_SETUP = "model-tier-setup"
SERVING_MODEL_ATTRIBUTE = "ServingModel"
KNOWLEDGE_INGEST_FLOW = "knowledge-ingest"

WORLD_SOURCE = "aicore.world"
WEATHER_CHANGED = "Weather Changed"
WORLD_FACT_CHANGED = "World Fact Changed"
WORLD_FACT_CHANGE_REJECTED = "World Fact Change Rejected"
STORY_BEAT = "Story Beat"  # the storyteller advanced an arc: a beat happened, narrated
REGION_NARRATED = "Region Narrated"  # a region's weather or facts changed: its narration as it is now
# Game servers change facts through the bus too: they put this on it (their own source).
GAME_SOURCE = "aicore.game"
WORLD_FACT_CHANGE_REQUESTED = "World Fact Change Requested"
QUEST_OBJECTIVE_REPORTED = "Quest Objective Reported"  # as POST /worlds/{world}/players/{player}/objectives

# Payments (a provider's webhook) and what they grant players.
COMMERCE_SOURCE = "aicore.commerce"
ENTITLEMENT_GRANTED = "Entitlement Granted"
ENTITLEMENT_REVOKED = "Entitlement Revoked"

MIND_SOURCE = "aicore.mind"
REFLECTION_DUE = "NPC Reflection Due"
MIND_REFLECTION_FLOW = "mind-reflection"

QUEST_SOURCE = "aicore.quests"
QUEST_OFFERED = "Quest Offered"
QUEST_ACCEPTED = "Quest Accepted"
QUEST_PROGRESSED = "Quest Progressed"
QUEST_COMPLETED = "Quest Completed"
QUEST_ABANDONED = "Quest Abandoned"
QUEST_REWARD_GRANTED = "Quest Reward Granted"
QUEST_LIFE_FLOW = "quest-life"
QA_RUN_FLOW = "qa-run"

# The function that sets up (at deploy, a CloudFormation custom resource) and rotates the signing keys.
IDENTITY_KEYS = "identity-keys"
KEY_ROTATION = Schedule("signing-key-rotation", rate_minutes=7 * 24 * 60)

# The resources, declared once and referenced by object below (a typo is a NameError, not a
# grant on nothing).
# Connections subscribed to a world's pushes, by world: the subscription lives on the connection's
# own item, so it dies with the connection ($disconnect deletes it; its TTL is the connection's).
WORLD_SUBSCRIBERS_INDEX = Index(
    "world-subscribers",
    partition_key="subscribed_world",
    include=("subscribed_regions", "token_expires_at"),
)
# Live connections of a player (`<world>#<player>`), for fan-out to a group session's participants
# and other pushes to one player: one Query finds them all, with what a push needs (the encoding, the
# token's expiry). Every connection item carries the key (written at `$connect`).
PLAYER_CONNECTIONS_INDEX = Index(
    "player-connections",
    partition_key="player",
    include=("encoding", "token_expires_at"),
)
CONNECTIONS = Table(
    "connections",
    "Live WebSocket connections: who is on which world, their world subscriptions, pushes made.",
    ttl_attribute="expires_at",
    indexes=(WORLD_SUBSCRIBERS_INDEX, PLAYER_CONNECTIONS_INDEX),
)
SESSIONS = Table(
    "sessions",
    "Forever conversations: session heads, hot messages, warm chunks, lookup pointers, append keys.",
    ttl_attribute="expires_at",  # idempotency keys of appends expire; nothing else carries it
    indexes=(SESSION_DORMANCY_INDEX,),
)
WORLD = Table(
    "world",
    "Worlds: pushed content (NPCs, lore, definition), live state (clock, weather, facts), NPC memories.",
    ttl_attribute="expires_at",  # markers of turns already remembered expire
)
# Memories get their own table: a partition per NPC x player (and one per NPC) spreads the writes of
# every turn, where the world table keeps a whole world in one partition; a turn reads its pair with
# one Query. Relationship and emotion, one small item each, stay in the world table (the turn's batch).
MIND = Table(
    "mind",
    "NPC minds: memories per NPC x player and per NPC, reflection and gossip bookkeeping.",
    ttl_attribute="expires_at",  # gossip counters of past days expire
)
IDENTITY = Table(
    "identity",
    "Players' identities: device and issuer links, refresh tokens (hashed) and their families.",
    ttl_attribute="expires_at",  # refresh tokens and families expire
)
SETTINGS = Table(
    "settings",
    "Settings: the global and each world's tunables (versioned documents) and their audit trail.",
)
MODELS = Table("models", "Model registry: versions per tier, what serves each tier, deployments in flight.")
ARCHIVE = Bucket("archive", "Cold sessions, compressed.", archival=True)
MODEL_WEIGHTS = Bucket(
    "models", "Model weights at pinned revisions, staged by the import flow for SageMaker."
)
# Read on every cold start of a function that searches lore: it stays in S3 Standard.
KNOWLEDGE = Bucket(
    "knowledge",
    "Lore documents as uploaded, chunks and vectors between ingestion steps, versioned search indexes.",
    scratch_prefixes=("work/",),
)
# The analytics store: one JSON line per turn, tier move, quest and purchase event, by day (written
# once, read by Athena's scans); Athena's query results are scratch.
ANALYTICS = Bucket(
    "analytics",
    "Analytics events (JSON lines by day, a Glue table over them) and Athena's query results.",
    archival=True,
    scratch_prefixes=("athena-results/",),
)
ANALYTICS_STREAM = AnalyticsStream(
    "analytics",
    ANALYTICS,
    events=(
        # every turn: its tier, whether it fell back and why, the time to its first token
        (NPC_SOURCE, (NPC_TURN_COMPLETED,)),
        # the sessions' tier moves: hot -> warm (compaction) and cold -> hot (rehydration)
        (SESSIONS_SOURCE, (SESSION_COMPACTION_NEEDED, SESSION_REHYDRATION_REQUESTED)),
        (
            QUEST_SOURCE,
            (
                QUEST_OFFERED,
                QUEST_ACCEPTED,
                QUEST_PROGRESSED,
                QUEST_COMPLETED,
                QUEST_ABANDONED,
                QUEST_REWARD_GRANTED,
            ),
        ),
        (COMMERCE_SOURCE, (ENTITLEMENT_GRANTED, ENTITLEMENT_REVOKED)),  # purchases and refunds
    ),
)
# The payment provider's webhook signing secret (Stripe's `whsec_...`): the operator puts it after the
# first deploy (README, Payments); the local runtime creates a development one.
PAYMENTS_WEBHOOK_SECRET = Secret(
    "payments-webhook-secret",
    "The payment provider's webhook signing secret (Stripe: whsec_...), put by the operator.",
    env_var="PAYMENTS_WEBHOOK_SECRET",
)
# Synthetic-player QA runs (`aicore qa run --env`): each batch's records and the report, under runs/.
QA_REPORTS = Bucket(
    "qa-reports",
    "QA runs: each batch's records and the report (JSON and HTML), under runs/{run_id}/.",
    expire_after_days=30,
    objects_prefix="runs/",
)
GOLD = ModelTier("gold")
SILVER = ModelTier("silver")
EMBED = ModelTier("embed")  # sentence embeddings for lore (and memory) search: endpoints/embed.json

MODEL_DEPLOY = StateMachine(
    name=MODEL_DEPLOY_FLOW,
    description="Deploys a model version; keeps it if a real generation works, else rolls back.",
    invokes=("model-deploy-steps",),
)
MODEL_IMPORT = StateMachine(
    name=MODEL_IMPORT_FLOW,
    description="Copies a model's pinned revision from the hub into the models bucket, checking every file.",
    invokes=("model-import-steps",),
)
SESSION_ARCHIVE = StateMachine(
    name=SESSION_ARCHIVE_FLOW,
    description="A dormant or suspended session moves to S3; its head stays as a tombstone.",
    invokes=("session-archiver",),
)
KNOWLEDGE_INGEST = StateMachine(
    name=KNOWLEDGE_INGEST_FLOW,
    description="A lore document is chunked, embedded and indexed; the new index version is published.",
    invokes=("knowledge-steps",),
)
MIND_REFLECTION = StateMachine(
    name=MIND_REFLECTION_FLOW,
    description="An NPC reflects on what a player told it: a few insights, citing their memories.",
    invokes=("mind-reflection-steps",),
)
QUEST_LIFE = StateMachine(
    name=QUEST_LIFE_FLOW,
    description="A quest's life: waits (weeks, no process) on a task token for objective progress, "
    "then completes it with its rewards, or ends it when abandoned or past its deadline.",
    invokes=("quest-steps",),
)
SESSION_REHYDRATE = StateMachine(
    name=SESSION_REHYDRATE_FLOW,
    description="A cold session comes back from S3 into DynamoDB, as it was.",
    invokes=("session-rehydrator",),
)
QA_RUN = StateMachine(
    name=QA_RUN_FLOW,
    description="Synthetic players in batches (a Distributed Map over the public protocol), then the report.",
    invokes=("qa-players",),
    distributed_map=True,
)

TOPOLOGY = Topology(
    tables=(CONNECTIONS, SESSIONS, WORLD, MODELS, MIND, IDENTITY, SETTINGS),
    buckets=(ARCHIVE, MODEL_WEIGHTS, KNOWLEDGE, ANALYTICS, QA_REPORTS),
    bus=EventBus(),
    model_tiers=(GOLD, SILVER, EMBED),
    event_sources=(NPC_SOURCE, SESSIONS_SOURCE, MIND_SOURCE, WORLD_SOURCE, COMMERCE_SOURCE, QUEST_SOURCE),
    secrets=(PAYMENTS_WEBHOOK_SECRET,),
    analytics=ANALYTICS_STREAM,
    authorizer=Function(
        name="authorizer",
        description="Checks the caller's JWT (ES256, published keys) for $connect and the HTTP API.",
        code="functions/authorizer",
        memory_mb=256,
        timeout_s=5,
        reads_public_keys=True,
        reserved_concurrency=50,  # every connect and uncached HTTP call passes here
        gradual_deployment=True,
    ),
    signing_keys=SigningKeys(),
    functions=(
        Function(
            name="identity-api",
            description="Logins (guest, trusted issuer), refresh with rotation, sign-out; the JWKS; status.",
            code="functions/identity_api",
            memory_mb=512,
            timeout_s=10,
            # One function for the unauthenticated routes: the stack is near CloudFormation's
            # 500-resource limit, and each function costs about ten resources.
            http_routes=(
                HttpRoute("POST", "/auth/guest", authorized=False),
                HttpRoute("POST", "/auth/exchange", authorized=False),
                HttpRoute("POST", "/auth/refresh", authorized=False),
                HttpRoute("POST", "/auth/logout", authorized=False),
                HttpRoute("GET", "/.well-known/jwks.json", authorized=False),
                HttpRoute("GET", "/status", authorized=False),  # an admin's token is checked here
            ),
            tables=((IDENTITY, RW), (SETTINGS, R)),  # settings: the client policy (X-Client-Version)
            signing_keys=Access.READ,
            reads_public_keys=True,
            observes_health=True,
        ),
        Function(
            name=IDENTITY_KEYS,
            description="Sets up the signing keys (at deploy) and rotates them on a schedule.",
            code="functions/identity_keys",
            memory_mb=256,
            timeout_s=30,
            schedules=(KEY_ROTATION,),
            signing_keys=RW,
        ),
        Function(
            name="ws-connect",
            description="Records a new WebSocket connection (player, world).",
            code="functions/ws_connect",
            memory_mb=256,
            timeout_s=10,
            websocket_routes=("$connect",),
            # the client policy (`?client=`) through the 30 s settings cache
            tables=((CONNECTIONS, Access.WRITE), (SETTINGS, R)),
            reserved_concurrency=50,  # players can always connect, whatever npc.say is doing
            gradual_deployment=True,
        ),
        Function(
            name="ws-disconnect",
            description="Forgets a closed WebSocket connection.",
            code="functions/ws_disconnect",
            memory_mb=256,
            timeout_s=10,
            websocket_routes=("$disconnect",),
            tables=((CONNECTIONS, Access.WRITE),),
        ),
        Function(
            name="ws-default",
            description="Unknown frames get an error frame; ping, connection.hello, npc.interrupt.",
            code="functions/ws_default",
            memory_mb=256,
            timeout_s=10,
            websocket_routes=("$default", "ping", "connection.hello", "npc.interrupt"),
            # resume tokens (hashed, TTL) in the connections table; capabilities through the settings cache;
            # npc.interrupt marks a turn's claim of its request id (one conditional UpdateItem)
            tables=((CONNECTIONS, RW), (SETTINGS, R)),
            pushes_to_clients=True,
        ),
        Function(
            name="npc-say",
            description="One NPC turn: prompt, streamed reply from the model, stored in the session.",
            code="functions/npc_say",
            memory_mb=1024,
            timeout_s=60,
            # session.scene: a few NPC lines among themselves (a model call each, bounded), same deps;
            # npc.listen: speech chunks kept in the connections table until the utterance ends
            websocket_routes=("npc.say", "session.scene", "npc.listen"),
            # who speaks rides on the event: no connection read; the NPC's memories (one Query)
            tables=((SESSIONS, RW), (WORLD, R), (MIND, R), (SETTINGS, R), (CONNECTIONS, RW)),
            # settings through a 30 s cache; the turn budgets (one conditional UpdateItem per turn)
            # a turn in a cold session brings it back first; lore indexes (once per version per container)
            buckets=((ARCHIVE, RW), (KNOWLEDGE, R)),
            publishes_events=True,
            model_tiers=(GOLD, SILVER, EMBED),  # embed: a lore query in quality mode only
            pushes_to_clients=True,
            reserved_concurrency=300,  # a ceiling: ~5x the 1,000-player load (README, What it costs)
            gradual_deployment=True,
            static_embeddings=True,  # the player's line, for memories and lore
            synthesizes_speech=True,  # `"voice": true`: the reply's sentences through Polly
            transcribes_speech=True,  # `npc.listen`: the player's speech through Transcribe streaming
        ),
        Function(
            name="sessions-api",
            description="HTTP API over sessions: create, read, page, metadata, participants, append, suspend",
            code="functions/sessions_api",
            http_routes=(
                HttpRoute("POST", "/sessions"),
                HttpRoute("GET", "/sessions/{id}"),
                HttpRoute("PATCH", "/sessions/{id}"),
                HttpRoute("POST", "/sessions/{id}/participants"),
                HttpRoute("DELETE", "/sessions/{id}/participants/{participant_id}"),
                HttpRoute("POST", "/sessions/{id}/messages"),
                HttpRoute("GET", "/sessions/{id}/messages"),
                HttpRoute("POST", "/sessions/{id}/suspend"),
            ),
            tables=((SESSIONS, RW), (SETTINGS, R)),  # settings: the client policy (X-Client-Version)
            buckets=((ARCHIVE, RW),),  # reads answer from a cold session's archive; writes rehydrate
            publishes_events=True,
            starts_state_machines=(SESSION_ARCHIVE,),
            gradual_deployment=True,
        ),
        Function(
            name="session-ws",
            description="WebSocket session actions (history, join, leave) and connection.resume.",
            code="functions/session_ws",
            memory_mb=512,
            timeout_s=30,
            websocket_routes=("session.history", "session.join", "session.leave", "connection.resume"),
            tables=((SESSIONS, RW), (CONNECTIONS, R)),  # connections: resume tokens (hashed)
            buckets=((ARCHIVE, RW),),
            publishes_events=True,
            pushes_to_clients=True,
            gradual_deployment=True,
        ),
        Function(
            name="session-summarizer",
            description="Writes a session's rolling summary (silver tier) and compacts older messages.",
            code="functions/session_summarizer",
            timeout_s=120,
            events=(EventRule("session-compaction-needed", SESSIONS_SOURCE, (SESSION_COMPACTION_NEEDED,)),),
            tables=((SESSIONS, RW),),
            model_tiers=(SILVER,),
        ),
        Function(
            name="session-tiering",
            description="Starts the tier flows: archive sweep of dormant sessions, rehydration on request.",
            code="functions/session_tiering",
            memory_mb=256,
            timeout_s=300,
            schedules=(Schedule("session-dormancy-sweep", rate_minutes=60),),
            events=(
                EventRule("session-rehydration-requested", SESSIONS_SOURCE, (SESSION_REHYDRATION_REQUESTED,)),
            ),
            tables=((SESSIONS, R),),
            starts_state_machines=(SESSION_ARCHIVE, SESSION_REHYDRATE),
        ),
        Function(
            name="session-archiver",
            description="Steps of the archive flow: freeze, upload to S3, seal as a tombstone, thaw.",
            code="functions/session_archiver",
            memory_mb=1024,
            timeout_s=300,
            tables=((SESSIONS, RW),),
            buckets=((ARCHIVE, RW),),  # the seal step reads the object back before the items go
        ),
        Function(
            name="session-rehydrator",
            description="Steps of the rehydrate flow: claim, restore from S3, discard the archive, release.",
            code="functions/session_rehydrator",
            memory_mb=1024,
            timeout_s=300,
            tables=((SESSIONS, RW),),
            buckets=((ARCHIVE, RW),),
        ),
        Function(
            name="worlds-api",
            description="HTTP API over world content (NPCs).",
            code="functions/worlds_api",
            http_routes=(HttpRoute("GET", "/worlds/{world}/npcs"),),
            tables=((WORLD, R), (SETTINGS, R)),  # settings: the client policy (X-Client-Version)
            gradual_deployment=True,
        ),
        Function(
            name="world-api",
            description="HTTP API over a world: content pushes, state, facts, the clock, region narration.",
            code="functions/world_api",
            memory_mb=512,
            timeout_s=30,
            http_routes=(
                HttpRoute("POST", "/worlds/{world}/content"),
                HttpRoute("GET", "/worlds/{world}/content"),
                HttpRoute("GET", "/worlds/{world}/state"),
                HttpRoute("PUT", "/worlds/{world}/facts/{key}"),
                HttpRoute("GET", "/worlds/{world}/facts/{key}"),
                HttpRoute("PUT", "/worlds/{world}/clock"),
                HttpRoute("GET", "/worlds/{world}/regions/{region}"),
                HttpRoute("GET", "/worlds/{world}/story"),
            ),
            # content items, the world's definition and state, narrations; settings: the client policy
            tables=((WORLD, RW), (SETTINGS, R)),
            buckets=((KNOWLEDGE, RW),),  # a push uploads new and changed lore documents
            starts_state_machines=(KNOWLEDGE_INGEST,),  # ... which the ingestion flow indexes
            publishes_events=True,  # World Fact Changed
            # Region narration (silver, gold if silver cannot). One function for the world's HTTP API,
            # not one more for narration: each function is ~10 resources of a stack's 500.
            model_tiers=(GOLD, SILVER),
            gradual_deployment=True,
        ),
        Function(
            name="world-push",
            description="World pushes: subscribe and unsubscribe frames, changes fanned out to subscribers.",
            code="functions/world_push",
            memory_mb=512,
            timeout_s=60,
            websocket_routes=("world.subscribe", "world.unsubscribe"),
            events=(
                EventRule(
                    "world-changed",
                    WORLD_SOURCE,
                    (WEATHER_CHANGED, WORLD_FACT_CHANGED, STORY_BEAT, REGION_NARRATED),
                ),
                # a player's quest changes, as quest.update to their connections (player-connections index)
                EventRule(
                    "quest-changed",
                    QUEST_SOURCE,
                    (QUEST_OFFERED, QUEST_ACCEPTED, QUEST_PROGRESSED, QUEST_COMPLETED),
                ),
            ),
            tables=((CONNECTIONS, RW), (WORLD, R)),  # subscriptions and markers; a world's regions
            pushes_to_clients=True,
        ),
        Function(
            name="world-keeper",
            description="Keeps worlds: announces weather changes, applies game servers' fact changes.",
            code="functions/world_keeper",
            memory_mb=256,
            timeout_s=60,
            schedules=(Schedule("world-weather", rate_minutes=1),),
            events=(EventRule("world-fact-change-requested", GAME_SOURCE, (WORLD_FACT_CHANGE_REQUESTED,)),),
            tables=((WORLD, RW),),  # worlds' state: announced weather, facts, their outbox entries
            publishes_events=True,  # Weather Changed, World Fact Changed, World Fact Change Rejected
        ),
        Function(
            name="storyteller",
            description="Advances worlds' story arcs as facts, weather and time change; narrates each beat.",
            code="functions/storyteller",
            memory_mb=256,
            timeout_s=60,  # a beat's narration waits for silver (then gold) at most the router's deadline
            schedules=(Schedule("story-time", rate_minutes=1),),  # beats that wait for a time of day
            events=(EventRule("story-triggers", WORLD_SOURCE, (WEATHER_CHANGED, WORLD_FACT_CHANGED)),),
            tables=((WORLD, RW),),  # arcs' progress, its outbox entries, the beats' fact changes
            publishes_events=True,  # Story Beat, World Fact Changed
            model_tiers=(GOLD, SILVER),  # a beat's narration: silver, gold if silver cannot
        ),
        Function(
            name="world-narrator",
            description="Narrates a region anew when its weather or facts change; announces Region Narrated.",
            code="functions/world_narrator",
            memory_mb=256,
            timeout_s=60,  # a narration waits for silver (then gold) at most the router's deadline
            events=(EventRule("region-changed", WORLD_SOURCE, (WEATHER_CHANGED, WORLD_FACT_CHANGED)),),
            tables=((WORLD, RW),),  # the world's state (read), the region's cached narration
            publishes_events=True,  # Region Narrated
            model_tiers=(GOLD, SILVER),  # silver, gold if silver cannot (the templates if neither)
        ),
        Function(
            name="npc-memory",
            description="After each turn: memories, relationship, emotion, forgetting, reflection, gossip.",
            code="functions/npc_memory",
            memory_mb=512,  # the static embedder's weights (16 MB) and numpy
            events=(EventRule("npc-turn-completed", NPC_SOURCE, (NPC_TURN_COMPLETED,)),),
            tables=((WORLD, RW), (MIND, RW)),
            publishes_events=True,  # NPC Reflection Due
            model_tiers=(SILVER,),  # the turn's appraisal (a heuristic when silver cannot answer)
            static_embeddings=True,  # the turn's lines become memories with vectors
        ),
        Function(
            name="mind-api",
            description="HTTP API over NPC minds: memories (read, forget) and relationships.",
            code="functions/mind_api",
            memory_mb=512,
            timeout_s=10,
            http_routes=(
                HttpRoute("GET", "/worlds/{world}/npcs/{npc}/memories"),
                HttpRoute("DELETE", "/worlds/{world}/npcs/{npc}/memories/{memory_id}"),
                HttpRoute("GET", "/worlds/{world}/npcs/{npc}/relationships/{player}"),
            ),
            tables=((MIND, RW), (WORLD, R), (SETTINGS, R)),  # settings: the client policy (X-Client-Version)
            static_embeddings=True,  # `?q=` ranks memories by meaning too
        ),
        Function(
            name="mind-reflection",
            description="Starts an NPC's reflection flow when it is due (once per reflection).",
            code="functions/mind_reflection",
            memory_mb=256,
            timeout_s=10,
            events=(EventRule("npc-reflection-due", MIND_SOURCE, (REFLECTION_DUE,)),),
            starts_state_machines=(MIND_REFLECTION,),
        ),
        Function(
            name="mind-reflection-steps",
            description="Reflection flow steps: gather, reflect (silver), the scripted fallback, record.",
            code="functions/mind_reflection_steps",
            memory_mb=512,
            timeout_s=120,  # the silver tier's reflection waits up to the policy's timeout
            tables=((MIND, RW),),
            model_tiers=(SILVER,),
            static_embeddings=True,  # insights are memories with vectors
        ),
        Function(
            name="quests-api",
            description="HTTP API over quests: a player's quests, accept, abandon; objective reports.",
            code="functions/quests_api",
            memory_mb=256,
            timeout_s=15,
            http_routes=(
                HttpRoute("GET", "/players/me/quests"),
                HttpRoute("POST", "/players/me/quests/{quest_id}/accept"),
                HttpRoute("POST", "/players/me/quests/{quest_id}/abandon"),
                HttpRoute("POST", "/worlds/{world}/players/{player}/objectives"),
            ),
            # Game servers report objectives over the bus too (the route's own code path)
            events=(EventRule("quest-objective-reported", GAME_SOURCE, (QUEST_OBJECTIVE_REPORTED,)),),
            # quests and offers live in the world's partition; settings: the client policy
            tables=((WORLD, RW), (SETTINGS, R)),
            publishes_events=True,  # Quest Accepted, Quest Progressed, Quest Abandoned
            starts_state_machines=(QUEST_LIFE,),  # on accept
            signals_state_machines=(QUEST_LIFE,),  # progress and abandon wake the waiting flow
        ),
        Function(
            name="quest-offers",
            description="After a turn, prepares the quest its NPC offers the player next (silver writes it).",
            code="functions/quest_offers",
            memory_mb=256,
            timeout_s=60,  # two silver answers at most, then the template
            events=(EventRule("quest-offers-on-turn", NPC_SOURCE, (NPC_TURN_COMPLETED,)),),
            tables=((WORLD, RW),),  # templates, the player's quests, the offer; the world's state (read)
            publishes_events=True,  # Quest Offered
            model_tiers=(SILVER,),
        ),
        Function(
            name="quest-steps",
            description="Quest flow steps: wait (stores the task token), complete (rewards), expire.",
            code="functions/quest_steps",
            memory_mb=256,
            timeout_s=30,
            tables=((WORLD, RW),),  # quests, the giver's relationship and emotion, world facts
            publishes_events=True,  # Quest Completed, Reward Granted, Abandoned; World Fact Changed
            signals_state_machines=(QUEST_LIFE,),  # a wait that finds the quest done wakes itself
        ),
        Function(
            name="settings-api",
            description="HTTP API over settings: global and per world (audited), performance modes.",
            code="functions/settings_api",
            memory_mb=256,
            timeout_s=10,
            http_routes=(
                HttpRoute("GET", "/worlds/{world}/performance"),
                HttpRoute("PUT", "/worlds/{world}/performance"),
                HttpRoute("PUT", "/worlds/{world}/players/me/performance"),
                HttpRoute("GET", "/settings"),
                HttpRoute("PUT", "/settings"),
                HttpRoute("GET", "/settings/audit"),
                HttpRoute("GET", "/worlds/{world}/settings"),
                HttpRoute("PUT", "/worlds/{world}/settings"),
                HttpRoute("GET", "/worlds/{world}/settings/audit"),
                HttpRoute("GET", "/clients/policy"),
                HttpRoute("PUT", "/clients/policy"),
                # No token: a client learns the protocol and its platform's minimum version before it
                # signs in (and after a 426 at connect). cdk throttles it as the other open routes.
                HttpRoute("GET", "/capabilities", authorized=False),
                HttpRoute("GET", "/players/me/entitlements"),
            ),
            # modes and settings; entitlements (the premium mode needs one)
            tables=((WORLD, RW), (SETTINGS, RW), (IDENTITY, R)),
            gradual_deployment=True,
        ),
        Function(
            name="models-api",
            description="HTTP API for admins: list, register, import, deploy and roll back model versions.",
            code="functions/models_api",
            memory_mb=256,
            timeout_s=10,
            http_routes=(
                HttpRoute("GET", "/models/{tier}"),
                HttpRoute("POST", "/models/{tier}/versions"),
                HttpRoute("GET", "/models/{tier}/versions/{version}"),
                HttpRoute("POST", "/models/{tier}/versions/{version}/import"),
                HttpRoute("POST", "/models/{tier}/versions/{version}/deploy"),
                HttpRoute("POST", "/models/{tier}/rollback"),
            ),
            tables=((MODELS, RW), (SETTINGS, R)),  # settings: the client policy (X-Client-Version)
            starts_state_machines=(MODEL_DEPLOY, MODEL_IMPORT),
            gradual_deployment=True,
        ),
        Function(
            name="model-deploy-steps",
            description="Model deployment steps: create model, update, check, smoke test, keep or roll back.",
            code="functions/model_deploy_steps",
            memory_mb=512,
            timeout_s=120,  # the smoke test waits up to 60 s for a freshly started model
            tables=((MODELS, RW),),
            model_tiers=(GOLD, SILVER),  # the smoke test is a real invocation
            manages_model_tiers=(GOLD, SILVER),
            serving_records=(
                (GOLD, Access.WRITE),
                (SILVER, Access.WRITE),
            ),  # the version that goes in service
        ),
        Function(
            name="model-import-steps",
            description="Model import steps: list a pinned revision, copy and check each file, record it.",
            code="functions/model_import_steps",
            memory_mb=1024,  # network throughput grows with memory; one 64 MiB part is buffered
            timeout_s=900,  # one file per invocation: a 5 GB shard at ~20 MB/s fits
            tables=((MODELS, RW),),
            buckets=((MODEL_WEIGHTS, RW),),
        ),
        Function(
            name=MODEL_TIER_SETUP,
            description="CloudFormation custom resource: stage a tier's weights, say which model it serves.",
            code="functions/model_tier_setup",
            memory_mb=256,
            timeout_s=60,
            starts_state_machines=(MODEL_IMPORT,),
            awaits_state_machines=(MODEL_IMPORT,),
            serving_records=((GOLD, RW), (SILVER, RW), (EMBED, RW)),
        ),
        Function(
            name="lore-api",
            description="HTTP API over lore: upload documents (ingested by a flow), list them, search.",
            code="functions/lore_api",
            memory_mb=1024,  # a world's index is searched in memory
            timeout_s=30,
            http_routes=(
                HttpRoute("POST", "/worlds/{world}/lore/documents"),
                HttpRoute("GET", "/worlds/{world}/lore/documents"),
                HttpRoute("GET", "/worlds/{world}/lore/search"),
            ),
            # document records, index pointers, NPCs (their knowledge filters); settings: the client policy
            tables=((WORLD, RW), (SETTINGS, R)),
            buckets=((KNOWLEDGE, RW),),  # writes uploaded documents, reads indexes
            model_tiers=(EMBED,),  # the query's vector
            starts_state_machines=(KNOWLEDGE_INGEST,),
            static_embeddings=True,  # the query's vector for an index built by the static embedder
        ),
        Function(
            name="knowledge-steps",
            description="Steps of the lore ingestion flow: chunk, embed, index, publish, fail.",
            code="functions/knowledge_steps",
            memory_mb=1769,  # one full vCPU: BM25 and the index are built in process
            timeout_s=300,
            tables=((WORLD, RW),),
            buckets=((KNOWLEDGE, RW),),
            model_tiers=(EMBED,),
            static_embeddings=True,  # KNOWLEDGE_EMBEDDER=static builds indexes in process
        ),
        Function(
            name="payments-webhook",
            description="The payment webhook (Stripe): signed events grant and revoke entitlements.",
            code="functions/payments_webhook",
            memory_mb=256,
            timeout_s=10,
            # No authorizer: the provider signs each delivery (checked here); throttled like /auth/*.
            http_routes=(HttpRoute("POST", "/payments/webhook", authorized=False),),
            # Entitlements and claimed event ids live in the identity table (keyed by player); a
            # refund also drops a player's premium mode in each world (a write, never a read).
            tables=((IDENTITY, RW), (WORLD, Access.WRITE)),
            publishes_events=True,  # Entitlement Granted, Entitlement Revoked
            secrets=(PAYMENTS_WEBHOOK_SECRET,),
        ),
        Function(
            name="qa-players",
            description="QA flow steps: one batch of synthetic players over the public protocol; the report.",
            code="functions/qa_players",
            memory_mb=512,
            timeout_s=900,  # a batch plays every turn of its players; the map retries a batch that fails
            buckets=((QA_REPORTS, RW),),
            client_sdk=True,  # the players connect with aicore_client over websockets
        ),
    ),
    state_machines=(
        MODEL_DEPLOY,
        MODEL_IMPORT,
        SESSION_ARCHIVE,
        SESSION_REHYDRATE,
        KNOWLEDGE_INGEST,
        MIND_REFLECTION,
        QUEST_LIFE,
        QA_RUN,
    ),
)


def resource_environment(env: str, topology: Topology = TOPOLOGY) -> dict[str, str]:
    """Environment variables naming every resource, as every function sees them."""
    values = {t.env_var: physical_name(env, t.name) for t in topology.tables}
    values |= {b.env_var: physical_name(env, b.name) for b in topology.buckets}
    values |= {m.env_var: physical_name(env, m.name) for m in topology.model_tiers}
    values |= {m.component_env_var: physical_name(env, m.name) for m in topology.model_tiers}
    values[topology.bus.env_var] = physical_name(env, topology.bus.name)
    if topology.signing_keys is not None:
        values[topology.signing_keys.secret_env_var] = topology.signing_keys.secret_name(env)
        values[topology.signing_keys.parameter_env_var] = topology.signing_keys.public_parameter(env)
    values |= {s.env_var: s.secret_name(env) for s in topology.secrets}
    values["ENVIRONMENT"] = env
    values["POWERTOOLS_SERVICE_NAME"] = SERVICE
    values["POWERTOOLS_METRICS_NAMESPACE"] = SERVICE
    return values
