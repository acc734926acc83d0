"""Environment of a function, validated once at cold start."""

from __future__ import annotations

from functools import lru_cache

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every function sees the names of every resource (names are not permissions: IAM is)."""

    model_config = SettingsConfigDict(frozen=True)

    environment: str = "local"
    connections_table: str
    sessions_table: str
    world_table: str
    archive_bucket: str
    event_bus_name: str
    gold_endpoint: str
    silver_endpoint: str
    # The WebSocket API's management endpoint: https://{api}.execute-api.{region}.amazonaws.com/{stage}
    connections_url: str | None = None
    # The key that signs player tokens: inline for local runs, a Secrets Manager ARN in the cloud.
    jwt_secret: SecretStr | None = None
    jwt_secret_arn: str | None = None
    jwt_issuer: str = "aicore"
    jwt_audience: str = "aicore-game"

    def endpoint_for(self, tier: str) -> str:
        return {"gold": self.gold_endpoint, "silver": self.silver_endpoint}[tier]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()  # filled from the environment
