"""Production wiring: the adapters every handler uses, created once per cold start from settings."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from aicore.settings import get_settings

EMBED_BATCH_TIMEOUT_S = 30.0

# Each adapter is imported where it is built: a handler's cold start pays only for what it uses.
if TYPE_CHECKING:
    from aicore.aws.connections import ApiGatewayPusher, DynamoConnectionStore
    from aicore.aws.events import EventBridgePublisher
    from aicore.aws.flows import StepFunctionsStarter
    from aicore.aws.health import AwsHealth
    from aicore.aws.knowledge import DynamoKnowledgeStore, S3KnowledgeObjects
    from aicore.aws.mind_store import DynamoMindStore
    from aicore.aws.model_registry import DynamoModelRegistry
    from aicore.aws.model_store import S3ModelStore
    from aicore.aws.payments_store import DynamoPaymentsStore
    from aicore.aws.polly import PollySynthesizer
    from aicore.aws.qa_runs import S3QaRuns
    from aicore.aws.request_ledger import DynamoRequestLedger
    from aicore.aws.sagemaker_hosting import SageMakerHosting
    from aicore.aws.sagemaker_runtime import EndpointEmbedder, SageMakerEndpoint
    from aicore.aws.serving_record import SsmServingRecord
    from aicore.aws.session_archive import S3SessionArchive
    from aicore.aws.sessions.compaction import DynamoCompactionStore
    from aicore.aws.sessions.store import DynamoSessionStore
    from aicore.aws.sessions.table import SessionTable
    from aicore.aws.sessions.tiering import DynamoTieringStore
    from aicore.aws.settings_store import DynamoSettingsStore
    from aicore.aws.signing_keys import SecretsManagerKeyVault, SsmKeyDirectory
    from aicore.aws.subscriptions import DynamoSubscriptions
    from aicore.aws.world_state import DynamoWorldState
    from aicore.aws.world_store import DynamoWorldStore
    from aicore.commerce.service import PaymentsDeps
    from aicore.identity.keyring import PublishedKeysCache
    from aicore.identity.keys import RotationPolicy
    from aicore.identity.service import IdentityDeps
    from aicore.identity.tokens import TokenVerifier
    from aicore.knowledge.base import KnowledgeBase
    from aicore.knowledge.fusion import FusionWeights
    from aicore.knowledge.ingest import IngestDeps
    from aicore.knowledge.service import LoreService
    from aicore.llm.embedding import Embedder, StaticEmbedder
    from aicore.llm.endpoint import TierTarget
    from aicore.llm.router import Router
    from aicore.mind.appraisal import ModelAppraiser
    from aicore.mind.policy import MindPolicy
    from aicore.mind.reflection import ReflectionDeps
    from aicore.mind.service import MindDeps, NpcDirectory
    from aicore.modelops.deploy import DeployDeps
    from aicore.modelops.staging import ImportDeps
    from aicore.modelops.tier_setup import TierSetupDeps
    from aicore.npc.interrupts import InterruptDeps
    from aicore.npc.listen import ListenDeps
    from aicore.npc.recollection import TurnMind
    from aicore.npc.turn import TurnDeps
    from aicore.platform.clients import ClientPolicy
    from aicore.platform.limits import TurnLimiter
    from aicore.platform.settings import SettingsCache, SettingsDeps
    from aicore.protocol import ConnectionFrameDeps
    from aicore.quests.pushes import QuestPushDeps
    from aicore.quests.service import OfferDeps, QuestDeps, StepDeps
    from aicore.sessions.actions import SessionActionDeps
    from aicore.sessions.compaction import ModelSummarizer
    from aicore.sessions.group import GroupFanOut
    from aicore.sessions.policy import SessionPolicy
    from aicore.sessions.service import SessionService
    from aicore.sessions.tiers import Tiering
    from aicore.world.facts import FactDeps
    from aicore.world.narration import NarrationDeps
    from aicore.world.narrator import NarratorDeps
    from aicore.world.push import PushDeps
    from aicore.world.pushes import UpdateDeps
    from aicore.world.state import StateDeps
    from aicore.world.story import StoryDeps
    from aicore.world.ticker import TickDeps


@lru_cache(maxsize=1)
def connections() -> DynamoConnectionStore:
    from aicore.aws.connections import DynamoConnectionStore

    return DynamoConnectionStore(get_settings().connections_table)


def connection_frame_deps() -> ConnectionFrameDeps:
    """`ping` and `connection.hello`: resume tokens in the connections table, capabilities from settings."""
    from aicore.aws.resume_tokens import DynamoResumeTokens
    from aicore.protocol import ConnectionFrameDeps

    return ConnectionFrameDeps(
        pusher=pusher(),
        resume_tokens=DynamoResumeTokens(get_settings().connections_table),
        settings=settings_cache(),
    )


@lru_cache(maxsize=1)
def session_table() -> SessionTable:
    from aicore.aws.sessions.table import SessionTable

    return SessionTable(get_settings().sessions_table)


@lru_cache(maxsize=1)
def sessions() -> DynamoSessionStore:
    """The session store; appends that grow the hot part past the threshold ask for compaction."""
    from aicore.aws.sessions.store import DynamoSessionStore
    from aicore.sessions.compaction import CompactionTrigger

    return DynamoSessionStore(session_table(), observer=CompactionTrigger(events, session_policy()))


@lru_cache(maxsize=1)
def compaction_store() -> DynamoCompactionStore:
    from aicore.aws.sessions.compaction import DynamoCompactionStore

    return DynamoCompactionStore(session_table())


@lru_cache(maxsize=1)
def tiering_store() -> DynamoTieringStore:
    from aicore.aws.sessions.tiering import DynamoTieringStore

    return DynamoTieringStore(session_table())


@lru_cache(maxsize=1)
def session_policy() -> SessionPolicy:
    from aicore.sessions.policy import SessionPolicy

    settings = get_settings()
    overrides = {
        name: value
        for name in SessionPolicy.model_fields
        if (value := getattr(settings, f"session_{name}", None)) is not None
    }
    return SessionPolicy(**overrides)


@lru_cache(maxsize=1)
def session_archive() -> S3SessionArchive:
    from aicore.aws.session_archive import S3SessionArchive

    return S3SessionArchive(get_settings().archive_bucket)


@lru_cache(maxsize=1)
def qa_runs() -> S3QaRuns:
    from aicore.aws.qa_runs import S3QaRuns

    bucket = get_settings().qa_reports_bucket
    if not bucket:
        raise ValueError("QA_REPORTS_BUCKET is not set: the qa-players function needs the QA reports bucket")
    return S3QaRuns(bucket)


@lru_cache(maxsize=1)
def tiering() -> Tiering:
    from aicore.sessions.tiers import Tiering

    return Tiering(tiering_store(), session_archive(), session_policy())


@lru_cache(maxsize=1)
def flows() -> StepFunctionsStarter:
    from aicore.aws.flows import StepFunctionsStarter
    from aicore.topology import SESSION_ARCHIVE_FLOW, SESSION_REHYDRATE_FLOW

    settings = get_settings()
    return StepFunctionsStarter(
        {
            SESSION_ARCHIVE_FLOW: settings.session_archive_state_machine_arn,
            SESSION_REHYDRATE_FLOW: settings.session_rehydrate_state_machine_arn,
        }
    )


def session_service() -> SessionService:
    from aicore.sessions.service import SessionService

    return SessionService(sessions(), tiering(), events(), flows(), session_policy())


def session_action_deps() -> SessionActionDeps:
    from aicore.aws.resume_tokens import DynamoResumeTokens
    from aicore.sessions.actions import SessionActionDeps

    tokens = DynamoResumeTokens(get_settings().connections_table)
    return SessionActionDeps(service=session_service(), pusher=pusher(), resume_tokens=tokens)


@lru_cache(maxsize=1)
def summarizer() -> ModelSummarizer:
    """Rolling summaries from the silver tier."""
    from aicore.sessions.compaction import ModelSummarizer

    policy = session_policy()
    return ModelSummarizer(
        model_endpoint(), tier_targets()["silver"], policy.summary_input_tokens, policy.summary_timeout_s
    )


@lru_cache(maxsize=1)
def world() -> DynamoWorldStore:
    from aicore.aws.world_store import DynamoWorldStore

    return DynamoWorldStore(get_settings().world_table)


@lru_cache(maxsize=1)
def world_state() -> DynamoWorldState:
    """A world's pushed content and live state (clock, weather, facts), in the world table."""
    from aicore.aws.world_state import DynamoWorldState

    return DynamoWorldState(get_settings().world_table)


def push_deps() -> PushDeps:
    from aicore.world.push import PushDeps

    return PushDeps(content=world_state(), world=world(), lore=lore_service())


def state_deps() -> StateDeps:
    from aicore.world.state import StateDeps

    return StateDeps(store=world_state())


def fact_deps() -> FactDeps:
    from aicore.world.facts import FactDeps

    return FactDeps(store=world_state(), events=events())


def narration_deps() -> NarrationDeps:
    from aicore.world.narration import NarrationDeps

    return NarrationDeps(store=world_state(), router=router())


def narrator_deps() -> NarratorDeps:
    from aicore.world.narration import NarrationDeps
    from aicore.world.narrator import NarratorDeps

    with_model = get_settings().world_narrator == "model"
    narration = NarrationDeps(store=world_state(), router=router(), write_with_model=with_model)
    return NarratorDeps(narration=narration, events=events())


@lru_cache(maxsize=1)
def story_deps() -> StoryDeps:
    from aicore.world.story import StoryDeps

    return StoryDeps(store=world_state(), events=events(), router=router())


def subscriptions() -> DynamoSubscriptions:
    from aicore.aws.subscriptions import DynamoSubscriptions

    return DynamoSubscriptions(get_settings().connections_table)


def update_deps() -> UpdateDeps:
    from aicore.world.pushes import UpdateDeps

    return UpdateDeps(subscriptions=subscriptions(), definitions=world_state(), pusher=pusher())


def quest_push_deps() -> QuestPushDeps:
    """`quest.update` pushes: the player's connections (one Query), once-per-event markers."""
    from aicore.quests.pushes import QuestPushDeps

    return QuestPushDeps(connections=connections(), markers=subscriptions(), pusher=pusher())


def tick_deps() -> TickDeps:
    from aicore.world.ticker import TickDeps

    return TickDeps(store=world_state(), events=events())


@lru_cache(maxsize=1)
def pusher() -> ApiGatewayPusher:
    from aicore.aws.connections import ApiGatewayPusher

    url = get_settings().connections_url
    if not url:
        raise RuntimeError("CONNECTIONS_URL is not set: this function cannot push to clients.")
    return ApiGatewayPusher(url)


@lru_cache(maxsize=1)
def model_endpoint() -> SageMakerEndpoint:
    from aicore.aws.sagemaker_runtime import SageMakerEndpoint

    return SageMakerEndpoint()


def tier_targets() -> dict[str, TierTarget]:
    """Each tier's endpoint and inference component, by tier name."""
    from aicore.llm.endpoint import TierTarget
    from aicore.llm.tiers import Tier

    settings = get_settings()
    return {tier: TierTarget(settings.endpoint_for(tier), settings.component_for(tier)) for tier in Tier}


@lru_cache(maxsize=1)
def router() -> Router:
    """One per warm container: its circuit breakers remember each tier's health between turns."""
    from aicore.llm.router import Router, RouterPolicy, Tier

    policy = RouterPolicy(deadline_scale=get_settings().model_deadline_scale)
    endpoint = model_endpoint()
    endpoint.warm_up(policy.socket_timeout_s)  # botocore's set-up is paid here, not in a turn's budget
    return Router(endpoint, {Tier(t): target for t, target in tier_targets().items()}, policy)


@lru_cache(maxsize=1)
def model_registry() -> DynamoModelRegistry:
    from aicore.aws.model_registry import DynamoModelRegistry

    return DynamoModelRegistry(get_settings().models_table)


@lru_cache(maxsize=1)
def model_flows() -> StepFunctionsStarter:
    from aicore.aws.flows import StepFunctionsStarter
    from aicore.topology import MODEL_DEPLOY_FLOW, MODEL_IMPORT_FLOW

    settings = get_settings()
    return StepFunctionsStarter(
        {
            MODEL_DEPLOY_FLOW: settings.model_deploy_state_machine_arn,
            MODEL_IMPORT_FLOW: settings.model_import_state_machine_arn,
        }
    )


@lru_cache(maxsize=1)
def serving_record() -> SsmServingRecord:
    from aicore.aws.serving_record import SsmServingRecord

    return SsmServingRecord(get_settings().environment)


@lru_cache(maxsize=1)
def model_store() -> S3ModelStore:
    from aicore.aws.model_store import S3ModelStore

    bucket = get_settings().models_bucket
    if not bucket:
        raise RuntimeError("MODELS_BUCKET is not set: this function cannot stage model weights.")
    return S3ModelStore(bucket)


def import_deps() -> ImportDeps:
    from aicore.modelops.hub import HttpHub
    from aicore.modelops.staging import ImportDeps

    return ImportDeps(
        hub=HttpHub(get_settings().model_hub_url), store=model_store(), registry=model_registry()
    )


def tier_setup_deps() -> TierSetupDeps:
    from aicore.aws.flows import StepFunctionsWatcher
    from aicore.modelops.tier_setup import TierSetupDeps

    return TierSetupDeps(flows=model_flows(), watcher=StepFunctionsWatcher(), serving=serving_record())


@lru_cache(maxsize=1)
def model_hosting() -> SageMakerHosting:
    from aicore.aws.sagemaker_hosting import SageMakerHosting

    return SageMakerHosting()


def deploy_deps() -> DeployDeps:
    from aicore.llm.tiers import Tier
    from aicore.modelops.deploy import DeployDeps

    settings = get_settings()
    return DeployDeps(
        registry=model_registry(),
        hosting=model_hosting(),
        serving=serving_record(),
        endpoint=model_endpoint(),
        targets={Tier(t): target for t, target in tier_targets().items()},
        poll_seconds=settings.model_deploy_poll_s,
        max_polls=settings.model_deploy_max_polls,
    )


@lru_cache(maxsize=1)
def events() -> EventBridgePublisher:
    from aicore.aws.events import EventBridgePublisher

    return EventBridgePublisher(get_settings().event_bus_name)


def turn_deps() -> TurnDeps:
    from aicore.clock import game_time
    from aicore.npc.turn import TurnDeps

    return TurnDeps(
        world=world(),
        mind=turn_mind(),
        sessions=session_service(),
        router=router(),
        pusher=pusher(),
        events=events(),
        token_interval_s=get_settings().token_frame_interval_ms / 1000,
        game_clock=game_time,
        world_state=world_state(),
        settings=settings_cache(),
        limiter=turn_limiter(),
        requests=request_ledger(),
        fan_out=group_fan_out(),
        synthesizer=synthesizer(),
    )


def group_fan_out() -> GroupFanOut:
    """Lines of group sessions to every participant's connections (the `player-connections` index)."""
    from aicore.sessions.group import GroupFanOut

    return GroupFanOut(connections(), pusher())


@lru_cache(maxsize=1)
def synthesizer() -> PollySynthesizer:
    """NPC voices: Polly (locally: the Polly-compatible Piper server of `aicore local`)."""
    from aicore.aws.polly import PollySynthesizer

    return PollySynthesizer()


def interrupt_deps() -> InterruptDeps:
    """`npc.interrupt` (in ws-default): it marks the turn's claim in the connections table."""
    from aicore.npc.interrupts import InterruptDeps

    return InterruptDeps(pusher=pusher(), requests=request_ledger())


@lru_cache(maxsize=1)
def listen_deps() -> ListenDeps:
    """`npc.listen`: chunks in the connections table; Transcribe streaming writes the utterance down
    (locally: the Transcribe-compatible pocketsphinx server of `aicore local`)."""
    from aicore.aws.transcribe import TranscribeRecognizer
    from aicore.aws.utterances import DynamoUtteranceStore
    from aicore.npc.listen import ListenDeps

    return ListenDeps(DynamoUtteranceStore(get_settings().connections_table), TranscribeRecognizer())


@lru_cache(maxsize=1)
def request_ledger() -> DynamoRequestLedger:
    """Claims of `npc.say` request ids (a repeated frame gets the first answer), in the connections table."""
    from aicore.aws.request_ledger import DynamoRequestLedger

    return DynamoRequestLedger(get_settings().connections_table)


@lru_cache(maxsize=1)
def settings_store() -> DynamoSettingsStore:
    from aicore.aws.settings_store import DynamoSettingsStore

    table = get_settings().settings_table
    if table is None:
        raise RuntimeError("SETTINGS_TABLE is not set: this function does not declare the settings table")
    return DynamoSettingsStore(table)


@lru_cache(maxsize=1)
def settings_cache() -> SettingsCache:
    """One per container: every handler of it reads settings at most `SETTINGS_CACHE_S` old."""
    from aicore.platform.settings import SettingsCache

    return SettingsCache(settings_store(), ttl_s=get_settings().settings_cache_s)


def client_policy() -> ClientPolicy:
    """The client policy HTTP APIs admit `X-Client-Version` against (`aicore.http.serve`): read through
    this container's settings cache, so at most one read per `SETTINGS_CACHE_S`, and only when called."""
    return settings_cache().everywhere().clients


def settings_deps() -> SettingsDeps:
    from aicore.platform.settings import SettingsDeps

    return SettingsDeps(store=settings_store())


@lru_cache(maxsize=1)
def turn_limiter() -> TurnLimiter:
    """Turn budgets on the connections table; one per container (it remembers buckets it saw)."""
    from aicore.aws.turn_budgets import DynamoBudgetStore
    from aicore.platform.limits import TurnLimiter

    return TurnLimiter(DynamoBudgetStore(get_settings().connections_table))


def turn_mind() -> TurnMind:
    """What a turn recalls with: the mind table, the knowledge base, the static embedder."""
    from aicore.npc.recollection import TurnMind

    return TurnMind(
        memories=mind_store(),
        knowledge=turn_knowledge_base(),
        embedder=static_embedder(),
        policy=mind_policy(),
    )


@lru_cache(maxsize=1)
def knowledge_store() -> DynamoKnowledgeStore:
    """Lore document records and index pointers (in the world table)."""
    from aicore.aws.knowledge import DynamoKnowledgeStore

    return DynamoKnowledgeStore(get_settings().world_table)


@lru_cache(maxsize=1)
def knowledge_objects() -> S3KnowledgeObjects:
    from aicore.aws.knowledge import S3KnowledgeObjects

    bucket = get_settings().knowledge_bucket
    if not bucket:
        raise RuntimeError(
            "KNOWLEDGE_BUCKET is not set: this function does not declare the knowledge bucket."
        )
    return S3KnowledgeObjects(bucket)


@lru_cache(maxsize=1)
def embed_tier() -> EndpointEmbedder:
    """Sentence embeddings from the embed tier (one `InvokeEndpoint` per batch of texts)."""
    from aicore.aws.sagemaker_runtime import EndpointEmbedder
    from aicore.llm.endpoint import TierTarget

    settings = get_settings()
    if not settings.embed_endpoint:
        raise RuntimeError("EMBED_ENDPOINT is not set: this function does not declare the embed tier.")
    target = TierTarget(settings.embed_endpoint, settings.embed_inference_component)
    return EndpointEmbedder(
        target, settings.embed_model, settings.embed_dimensions, endpoint=model_endpoint()
    )


@lru_cache(maxsize=1)
def mind_policy() -> MindPolicy:
    from aicore.mind.policy import MindPolicy, RetrievalWeights

    settings = get_settings()
    weights = {
        name: value
        for name in RetrievalWeights.model_fields
        if (value := getattr(settings, f"mind_weight_{name}", None)) is not None
    }
    overrides = {
        name: value
        for name in MindPolicy.model_fields
        if (value := getattr(settings, f"mind_{name}", None)) is not None
    }
    return MindPolicy(weights=RetrievalWeights(**weights), **overrides)


@lru_cache(maxsize=1)
def mind_store() -> DynamoMindStore:
    from aicore.aws.mind_store import DynamoMindStore

    return DynamoMindStore(get_settings().mind_table)


@lru_cache(maxsize=1)
def static_embedder() -> StaticEmbedder:
    """One per warm container: its weights load once (on first use)."""
    from aicore.llm.embedding import StaticEmbedder

    return StaticEmbedder()


def embedder_named(name: str) -> Embedder | None:
    """The embedder that made vectors named `name` (what an index records), if this function has it."""
    from aicore.llm.embedding import StaticEmbedder

    if name == StaticEmbedder.name:
        return static_embedder()
    settings = get_settings()
    if settings.embed_endpoint and name == f"embed:{settings.embed_model}":
        return embed_tier()
    return None


def ingest_embedder() -> Embedder:
    """The embedder new knowledge indexes are built with (`KNOWLEDGE_EMBEDDER`)."""
    return static_embedder() if get_settings().knowledge_embedder == "static" else embed_tier()


def _fusion_weights() -> FusionWeights:
    from aicore.knowledge.fusion import FusionWeights

    settings = get_settings()
    return FusionWeights(
        method=settings.knowledge_fusion,
        keyword=settings.knowledge_keyword_weight,
        vector=settings.knowledge_vector_weight,
        rrf_k=settings.knowledge_rrf_k,
    )


@lru_cache(maxsize=1)
def knowledge_base() -> KnowledgeBase:
    """One per warm container: it caches each world's current index."""
    from aicore.knowledge.base import KnowledgeBase

    return KnowledgeBase(knowledge_store(), knowledge_objects(), embedder_named, _fusion_weights())


@lru_cache(maxsize=1)
def turn_embed_tier() -> EndpointEmbedder:
    """The embed tier as an NPC turn may use it (quality mode): a short timeout, its client built now."""
    from aicore.aws.sagemaker_runtime import EndpointEmbedder
    from aicore.llm.endpoint import TierTarget
    from aicore.npc.recollection import LORE_QUERY_TIMEOUT_S

    settings = get_settings()
    if not settings.embed_endpoint:
        raise RuntimeError("EMBED_ENDPOINT is not set: this function does not declare the embed tier.")
    timeout_s = LORE_QUERY_TIMEOUT_S * settings.model_deadline_scale
    endpoint = model_endpoint()
    endpoint.warm_up(timeout_s)
    target = TierTarget(settings.embed_endpoint, settings.embed_inference_component)
    return EndpointEmbedder(
        target, settings.embed_model, settings.embed_dimensions, endpoint=endpoint, timeout_s=timeout_s
    )


def turn_embedder_named(name: str) -> Embedder | None:
    """`embedder_named` for a turn: the embed tier with the turn's short timeout."""
    from aicore.llm.embedding import StaticEmbedder

    if name == StaticEmbedder.name:
        return static_embedder()
    settings = get_settings()
    if settings.embed_endpoint and name == f"embed:{settings.embed_model}":
        return turn_embed_tier()
    return None


@lru_cache(maxsize=1)
def turn_knowledge_base() -> KnowledgeBase:
    """The NPC turn's knowledge base (one per warm container, caching each world's index)."""
    from aicore.knowledge.base import KnowledgeBase

    return KnowledgeBase(knowledge_store(), knowledge_objects(), turn_embedder_named, _fusion_weights())


@lru_cache(maxsize=1)
def knowledge_flows() -> StepFunctionsStarter:
    from aicore.aws.flows import StepFunctionsStarter
    from aicore.topology import KNOWLEDGE_INGEST_FLOW

    return StepFunctionsStarter({KNOWLEDGE_INGEST_FLOW: get_settings().knowledge_ingest_state_machine_arn})


def lore_service() -> LoreService:
    from aicore.knowledge.service import KnowledgePolicy, LoreService

    settings = get_settings()
    policy = (
        KnowledgePolicy(max_document_chars=settings.knowledge_max_document_chars)
        if settings.knowledge_max_document_chars
        else KnowledgePolicy()
    )
    return LoreService(
        knowledge_store(), knowledge_objects(), knowledge_flows(), knowledge_base(), world(), policy
    )


def ingest_deps() -> IngestDeps:
    from aicore.knowledge.chunking import ChunkPolicy
    from aicore.knowledge.ingest import IngestDeps

    settings = get_settings()
    return IngestDeps(
        documents=knowledge_store(),
        pointers=knowledge_store(),
        objects=knowledge_objects(),
        embedder=ingest_embedder,
        chunking=ChunkPolicy(settings.knowledge_chunk_chars, settings.knowledge_chunk_overlap_chars),
    )


@lru_cache(maxsize=1)
def appraiser() -> ModelAppraiser:
    from aicore.mind.appraisal import ModelAppraiser

    policy = mind_policy()
    return ModelAppraiser(
        model_endpoint(), tier_targets()["silver"], policy.appraisal_timeout_s, policy.max_turn_change
    )


@lru_cache(maxsize=1)
def npc_directory() -> NpcDirectory:
    from aicore.mind.service import NpcDirectory

    return NpcDirectory(world())


def mind_deps() -> MindDeps:
    from aicore.clock import game_time
    from aicore.mind.service import MindDeps

    return MindDeps(
        clock=game_time,
        store=mind_store(),
        world=world(),
        embedder=static_embedder(),
        appraiser=appraiser(),
        events=events(),
        npcs=npc_directory(),
        policy=mind_policy(),
    )


@lru_cache(maxsize=1)
def mind_flows() -> StepFunctionsStarter:
    from aicore.aws.flows import StepFunctionsStarter
    from aicore.topology import MIND_REFLECTION_FLOW

    return StepFunctionsStarter({MIND_REFLECTION_FLOW: get_settings().mind_reflection_state_machine_arn})


def reflection_deps() -> ReflectionDeps:
    from aicore.clock import game_time
    from aicore.mind.reflection import ReflectionDeps

    policy = mind_policy()
    return ReflectionDeps(
        clock=game_time,
        store=mind_store(),
        embedder=static_embedder(),
        endpoint=model_endpoint(),
        target=tier_targets()["silver"],
        policy=policy,
    )


def _required(value: str | None, variable: str) -> str:
    if not value:
        raise RuntimeError(f"{variable} is not set: this function does not declare the signing keys.")
    return value


@lru_cache(maxsize=1)
def key_vault() -> SecretsManagerKeyVault:
    from aicore.aws.signing_keys import SecretsManagerKeyVault

    return SecretsManagerKeyVault(_required(get_settings().signing_keys_secret, "SIGNING_KEYS_SECRET"))


@lru_cache(maxsize=1)
def key_directory() -> SsmKeyDirectory:
    from aicore.aws.signing_keys import SsmKeyDirectory

    return SsmKeyDirectory(_required(get_settings().public_keys_parameter, "PUBLIC_KEYS_PARAMETER"))


def rotation_policy() -> RotationPolicy:
    from aicore.identity.keys import RotationPolicy

    settings = get_settings()
    return RotationPolicy(
        access_token_ttl_s=settings.access_token_ttl_s, signer_cache_s=settings.signer_key_cache_s
    )


@lru_cache(maxsize=1)
def token_verifier() -> TokenVerifier:
    """One per warm container: its JWKS cache is what makes a connect cheap."""
    from aicore.identity.tokens import JwksCache, TokenVerifier

    settings = get_settings()
    directory = key_directory()
    keys = JwksCache(lambda: directory.load().keys, max_age_s=settings.public_keys_cache_s)
    return TokenVerifier(keys, settings.jwt_issuer, settings.jwt_audience)


@lru_cache(maxsize=1)
def published_keys() -> PublishedKeysCache:
    from aicore.identity.keyring import PublishedKeysCache

    return PublishedKeysCache(key_directory(), get_settings().public_keys_cache_s)


@lru_cache(maxsize=1)
def identity_deps() -> IdentityDeps:
    from aicore.aws.identity_store import DynamoIdentityStore
    from aicore.identity.issuers import IssuerRegistry, parse_trusted_issuers
    from aicore.identity.keyring import SignerKeys
    from aicore.identity.service import IdentityDeps, IdentityPolicy
    from aicore.identity.tokens import TokenSigner

    settings = get_settings()
    if not settings.identity_table:
        raise RuntimeError("IDENTITY_TABLE is not set: this function does not declare the identity table.")
    signer_keys = SignerKeys(key_vault(), settings.signer_key_cache_s)
    return IdentityDeps(
        store=DynamoIdentityStore(settings.identity_table),
        signer=TokenSigner(signer_keys.current, settings.jwt_issuer, settings.jwt_audience),
        issuers=IssuerRegistry(parse_trusted_issuers(settings.identity_trusted_issuers)),
        policy=IdentityPolicy(
            access_token_ttl_s=settings.access_token_ttl_s,
            refresh_token_ttl_s=settings.refresh_token_ttl_s,
            worlds=tuple(settings.identity_worlds.split(",")),
        ),
    )


@lru_cache(maxsize=1)
def health() -> AwsHealth:
    from aicore.aws.health import AwsHealth
    from aicore.topology import TOPOLOGY

    settings = get_settings()
    tables = {t.name: getattr(settings, f"{t.name}_table", None) for t in TOPOLOGY.tables}
    return AwsHealth(
        tables={name: table for name, table in tables.items() if table},
        bus=settings.event_bus_name,
        components={
            t.name: getattr(settings, f"{t.name}_inference_component", None) for t in TOPOLOGY.model_tiers
        },
    )


@lru_cache(maxsize=1)
def payments_store() -> DynamoPaymentsStore:
    from aicore.aws.payments_store import DynamoPaymentsStore

    table = get_settings().identity_table
    if table is None:
        raise RuntimeError("IDENTITY_TABLE is not set: entitlements live in the identity table")
    return DynamoPaymentsStore(table)


@lru_cache(maxsize=1)
def payments_deps() -> PaymentsDeps:
    from aicore.aws.payments_store import DynamoModeSettings
    from aicore.aws.secrets import CachedSecret
    from aicore.commerce.catalog import load_catalog
    from aicore.commerce.service import PaymentsDeps

    settings = get_settings()
    if settings.payments_webhook_secret is None:
        raise RuntimeError("PAYMENTS_WEBHOOK_SECRET is not set: the webhook cannot check signatures")
    secret = CachedSecret(settings.payments_webhook_secret)
    return PaymentsDeps(
        store=payments_store(),
        events=events(),
        modes=DynamoModeSettings(settings.world_table),
        catalog=load_catalog(settings.payments_catalog),
        secrets=secret.values,
        worlds=settings.identity_worlds.split(","),
        tolerance_s=settings.payments_tolerance_s,
    )


def quest_deps() -> QuestDeps:
    from aicore.aws.flows import StepFunctionsSignals, StepFunctionsStarter
    from aicore.aws.quest_store import DynamoQuestStore
    from aicore.quests.service import QuestDeps
    from aicore.topology import QUEST_LIFE_FLOW

    settings = get_settings()
    return QuestDeps(
        store=DynamoQuestStore(settings.world_table),
        events=events(),
        flows=StepFunctionsStarter({QUEST_LIFE_FLOW: settings.quest_life_state_machine_arn}),
        signals=StepFunctionsSignals(),
    )


def quest_offer_deps() -> OfferDeps:
    from aicore.aws.quest_store import DynamoQuestStore
    from aicore.quests.generation import GenerationDeps
    from aicore.quests.service import OfferDeps

    return OfferDeps(
        store=DynamoQuestStore(get_settings().world_table),
        templates=world_state(),
        world=world(),
        state=world_state(),
        generation=GenerationDeps(router()) if get_settings().quest_writer == "model" else None,
        events=events(),
    )


def quest_step_deps() -> StepDeps:
    from aicore.quests.service import StepDeps

    return StepDeps(quests=quest_deps(), world=world(), facts=fact_deps(), policy=mind_policy())
