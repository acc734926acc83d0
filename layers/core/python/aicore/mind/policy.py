"""The numbers of the mind: retrieval weights, decay, bounds, thresholds. Settings override them."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RetrievalWeights(BaseModel):
    """score = recency x `recency` + importance/10 x `importance` + relevance x `relevance`.

    Relevance is hybrid: `keyword` of the BM25 score and 1 - `keyword` of the vector cosine, each
    put on an absolute 0..1 scale (BM25 s/(s + `keyword_saturation`), cosine/`cosine_ceiling`),
    fused as a convex combination. `keyword` 0.5 was picked on each half of the labelled set and
    checked on the other (bench/mind.py).
    """

    model_config = ConfigDict(frozen=True)

    recency: float = Field(1.0, ge=0)
    importance: float = Field(1.0, ge=0)
    relevance: float = Field(2.0, ge=0)
    keyword: float = Field(0.5, ge=0, le=1)
    keyword_saturation: float = Field(3.0, gt=0)  # about the median BM25 of a matching memory
    cosine_ceiling: float = Field(0.4, gt=0, le=1)  # static embeddings of short texts rarely pass 0.3
    # recency = decay ** hours since the memory was last accessed (Generative Agents: 0.995)
    hourly_decay: float = Field(0.995, gt=0, le=1)


class MindPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    weights: RetrievalWeights = RetrievalWeights()
    # What a turn's prompt takes: the best memories within this many tokens, general ones at most
    # `general_share` of it.
    prompt_token_budget: int = Field(240, ge=16, le=4000)
    general_share: float = Field(0.34, ge=0, le=1)
    # Bounds: compaction keeps at most this many memories per NPC x player and general per NPC.
    max_pair_memories: int = Field(80, ge=8, le=500)
    max_general_memories: int = Field(40, ge=8, le=200)
    # A compaction takes the `compact_batch` least valuable memories; those of importance up to
    # `forget_importance` are dropped, the others are folded into one summary memory.
    compact_batch: int = Field(16, ge=2)
    forget_importance: int = Field(2, ge=0, le=10)
    summary_chars: int = Field(480, ge=80, le=2000)
    # A memory the turn used is marked accessed unless it was within this many hours (0.995^2: 1 %).
    touch_after_h: float = Field(2.0, ge=0, le=48)
    # Reflection: once the importance told since the last reflection reaches this.
    reflection_threshold: int = Field(60, ge=1)
    reflection_inputs: int = Field(12, ge=2, le=50)
    max_insights: int = Field(3, ge=1, le=5)
    # Gossip: memories of at least this importance may travel, at most so many per day from one
    # NPC to another, and so many per day to one NPC in all.
    gossip_min_importance: int = Field(6, ge=1, le=10)
    gossip_per_pair_per_day: int = Field(3, ge=0, le=100)
    gossip_per_listener_per_day: int = Field(10, ge=0, le=1000)
    # Trust between NPCs when nothing else is known: same faction, same region only, neither.
    npc_trust_same_faction: int = Field(40, ge=-100, le=100)
    npc_trust_same_region: int = Field(10, ge=-100, le=100)
    gossip_min_trust: int = Field(-20, ge=-100, le=100)
    # Relationships: the change history kept, and the most one turn may move trust or affinity.
    relationship_history: int = Field(10, ge=1, le=50)
    max_turn_change: int = Field(10, ge=1, le=50)
    # Emotions return half-way to the NPC's temperament in this many hours.
    emotion_half_life_h: float = Field(2.0, gt=0)
    # The appraisal (importance, trust, affinity, emotion of a turn) by the silver tier.
    appraisal_timeout_s: float = Field(10.0, gt=0, le=900)
    reflection_timeout_s: float = Field(60.0, gt=0, le=900)

    @model_validator(mode="after")
    def _compaction_fits(self) -> MindPolicy:
        if self.compact_batch >= self.max_pair_memories:
            raise ValueError("compact_batch must be below max_pair_memories")
        return self
