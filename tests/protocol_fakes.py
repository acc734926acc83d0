"""In-memory stand-ins for the protocol v2 stores (resume tokens)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aicore.protocol import ResumeGrant


@dataclass
class FakeResumeTokens:
    grants: dict[str, ResumeGrant] = field(default_factory=dict)  # by the token's hash, as the table

    def put(self, token_hash: str, grant: ResumeGrant) -> None:
        self.grants[token_hash] = grant

    def get(self, token_hash: str) -> ResumeGrant | None:
        return self.grants.get(token_hash)
