"""Environment of a function, validated once at cold start.

A plain pydantic model filled from the variables named like its fields in capitals
(`SESSIONS_TABLE` -> `sessions_table`): pydantic-settings would do the same at a cost of ~100 ms
of imports in every cold start (bench/cold_start.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    """Every function sees the names of every resource (names are not permissions: IAM is)."""

    model_config = ConfigDict(frozen=True)

    environment: str = "local"
    connections_table: str
    sessions_table: str
    world_table: str
    archive_bucket: str
    models_bucket: str | None = None  # staged model weights (the import flow writes there)
    event_bus_name: str
    models_table: str
    mind_table: str
    settings_table: str | None = None  # settings documents and their audit (`aicore.platform.settings`)
    # How old a container's copy of the settings may get: a change applies everywhere within it.
    settings_cache_s: float = Field(30.0, ge=0, le=300)
    identity_table: str | None = None  # logins and refresh tokens (unset where the topology has none)
    gold_endpoint: str
    silver_endpoint: str
    # The embedding tier and the knowledge bucket (unset where the topology has neither).
    embed_endpoint: str | None = None
    embed_inference_component: str | None = None
    knowledge_bucket: str | None = None
    qa_reports_bucket: str | None = None  # QA runs' batches and reports (the qa-run flow)
    # The inference component serving each tier on its endpoint (SageMaker needs it on every call).
    gold_inference_component: str | None = None
    silver_inference_component: str | None = None
    # The WebSocket API's management endpoint: https://{api}.execute-api.{region}.amazonaws.com/{stage}
    connections_url: str | None = None
    # Access tokens (ES256): the signing keys' secret, the published public keys, issuer, audience.
    signing_keys_secret: str | None = None
    public_keys_parameter: str | None = None
    jwt_issuer: str = "aicore"
    jwt_audience: str = "aicore-game"
    access_token_ttl_s: int = Field(900, ge=1, le=3600)
    refresh_token_ttl_s: int = Field(30 * 24 * 3600, ge=60, le=365 * 24 * 3600)
    # How long a signer and a verifier keep the keys they read (a rotation reaches them within it).
    signer_key_cache_s: int = Field(60, ge=0, le=3600)
    public_keys_cache_s: int = Field(300, ge=0, le=3600)
    # Players sign in to these worlds (comma-separated; the first is the default); the trusted
    # issuers `POST /auth/exchange` accepts (a JSON list, `aicore.identity.issuers`).
    identity_worlds: str = Field("demo", pattern=r"^[A-Za-z0-9_.:\-]{1,64}(,[A-Za-z0-9_.:\-]{1,64})*$")
    identity_trusted_issuers: str | None = None
    # Payments: the webhook signing secret's name (Secrets Manager), how old a signed delivery may be,
    # and the catalog (a JSON object like `aicore/commerce/catalog.json`; unset: that file).
    payments_webhook_secret: str | None = None
    payments_tolerance_s: int = Field(300, ge=1, le=3600)
    # Who writes a quest offer: silver (validated, the template if it fails) or the template itself.
    # The template alone spares a single local CPU model the work while players wait on it.
    quest_writer: Literal["model", "template"] = "model"
    # Who writes the narration the world-narrator announces after a region's change: a model tier
    # (cached by what it describes) or the templates (not cached; reads over HTTP still ask the model).
    world_narrator: Literal["model", "template"] = "model"
    payments_catalog: str | None = None
    # What GET /status answers as `version` (cdk sets it from pyproject.toml).
    service_version: str = "unknown"
    # Sessions: overrides of `aicore.sessions.policy.SessionPolicy`, which holds the defaults and
    # the bounds (unset: the policy's default).
    session_compaction_threshold: int | None = None
    session_hot_keep: int | None = None
    session_chunk_messages: int | None = None
    session_dormancy_days: float | None = None
    session_summary_max_tokens: int | None = None
    session_summary_input_tokens: int | None = None
    session_summary_timeout_s: float | None = None
    # State machines a function may start: set for the functions that declare them in the topology.
    session_archive_state_machine_arn: str | None = None
    session_rehydrate_state_machine_arn: str | None = None
    model_deploy_state_machine_arn: str | None = None
    model_import_state_machine_arn: str | None = None
    # Where the import flow reads pinned revisions (tests point it at a local stand-in).
    model_hub_url: str = "https://huggingface.co"
    knowledge_ingest_state_machine_arn: str | None = None
    mind_reflection_state_machine_arn: str | None = None
    quest_life_state_machine_arn: str | None = None
    # The mind: overrides of `aicore.mind.policy.MindPolicy` (`mind_<field>`) and of its retrieval
    # weights (`mind_weight_<field>`); unset: the policy's default.
    mind_prompt_token_budget: int | None = None
    mind_max_pair_memories: int | None = None
    mind_max_general_memories: int | None = None
    mind_reflection_threshold: int | None = None
    mind_gossip_per_pair_per_day: int | None = None
    mind_gossip_per_listener_per_day: int | None = None
    mind_appraisal_timeout_s: float | None = None
    mind_reflection_timeout_s: float | None = None
    mind_weight_recency: float | None = None
    mind_weight_importance: float | None = None
    mind_weight_relevance: float | None = None
    mind_weight_keyword: float | None = None
    mind_weight_hourly_decay: float | None = None
    # The router's wall-clock deadlines are the latency budgets times this: 1 on the tiers' GPUs,
    # more where a laptop's CPU model stands in for them.
    model_deadline_scale: float = Field(1.0, gt=0, le=1000)
    # Token frames of a streamed reply: the first at once, then at most one per this interval.
    token_frame_interval_ms: int = Field(50, ge=0, le=1000)
    # Model deployment: how often it looks whether the new model serves, and for how long at most.
    model_deploy_poll_s: int = Field(30, ge=0, le=3600)
    model_deploy_max_polls: int = Field(80, ge=1)
    # What the embed tier serves (endpoints/embed.json; cdk sets it from there) and its dimensions.
    embed_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    embed_dimensions: int = Field(384, ge=1, le=8192)
    # Knowledge base: which embedder new indexes are built with (`embed`: the tier; `static`: the
    # in-process WordLlama vectors, which need its weights), hybrid fusion, and input bounds
    # (unset: the defaults of `aicore.knowledge`).
    knowledge_embedder: Literal["embed", "static"] = "embed"
    knowledge_fusion: Literal["rrf", "weighted"] = "weighted"
    knowledge_keyword_weight: float = Field(0.3, ge=0, le=10)
    knowledge_vector_weight: float = Field(1.0, ge=0, le=10)
    knowledge_rrf_k: int = Field(60, ge=1, le=1000)
    knowledge_chunk_chars: int = Field(800, ge=100, le=8000)
    knowledge_chunk_overlap_chars: int = Field(160, ge=0, le=4000)
    knowledge_max_document_chars: int | None = None

    def endpoint_for(self, tier: str) -> str:
        return {"gold": self.gold_endpoint, "silver": self.silver_endpoint}[tier]

    def component_for(self, tier: str) -> str | None:
        return {"gold": self.gold_inference_component, "silver": self.silver_inference_component}[tier]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Each field from the variable of its name in capitals; unset: its default (or an error)."""
        environ = os.environ if environ is None else environ
        found = {name: environ[name.upper()] for name in cls.model_fields if name.upper() in environ}
        return cls.model_validate(found)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environment()
