"""The numbers that decide when a session moves between tiers, and how pages and context are cut."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_PAGE = 50
MAX_PAGE = 200


class SessionPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    # When the hot part (messages not yet in chunks) reaches this many, compaction is asked for...
    compaction_threshold: int = Field(200, ge=2)
    # ...and it moves all but the newest `hot_keep` into chunks of `chunk_messages`.
    hot_keep: int = Field(50, ge=1)
    chunk_messages: int = Field(100, ge=1)
    # A session nobody wrote to for this long goes to S3.
    dormancy_days: float = Field(365.0, gt=0)
    summary_max_tokens: int = Field(160, ge=16)
    # The summarizer sees the previous summary and at most this much of the newest compacted text.
    summary_input_tokens: int = Field(1200, ge=64)
    # The longest wait for the silver tier's summary (a laptop's CPU model needs more).
    summary_timeout_s: float = Field(60.0, gt=0, le=900)
    # One summarizer at a time per session: a lease it holds this long (a summary's longest wait).
    compaction_lease_s: float = Field(120.0, gt=0)
    # A rehydration that has not finished after this long is taken over by the next one.
    rehydration_stale_s: float = Field(120.0, gt=0)
    # A write to a session that is moving between tiers waits this long for the move to finish.
    tier_wait_s: float = Field(20.0, ge=0)

    @model_validator(mode="after")
    def _compaction_leaves_room(self) -> SessionPolicy:
        if self.hot_keep + self.chunk_messages > self.compaction_threshold:
            raise ValueError(
                "compaction_threshold must be at least hot_keep + chunk_messages: "
                "otherwise a compaction could not fill a chunk"
            )
        return self

    def compaction_due(self, hot_before: int, hot_after: int) -> bool:
        """True when an append took the hot part to the threshold, or one more chunk past it.

        Asking again every `chunk_messages` past the threshold retries a compaction that failed.
        """
        threshold, step = self.compaction_threshold, self.chunk_messages
        if hot_after < threshold:
            return False
        return hot_before < threshold or (hot_after - threshold) // step != (hot_before - threshold) // step
