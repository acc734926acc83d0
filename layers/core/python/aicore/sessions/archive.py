"""The cold tier: a whole session as one gzip-compressed JSON object in the archive bucket."""

from __future__ import annotations

import gzip
from typing import Literal, Protocol

from pydantic import BaseModel

from aicore.clock import utc_now
from aicore.sessions.models import Message, SessionHead

FORMAT: Literal["aicore.session/1"] = "aicore.session/1"
CONTENT_TYPE = "application/gzip"


class ArchivedSession(BaseModel):
    """Everything a session holds: its head, every message (oldest first), its warm chunk layout."""

    format: Literal["aicore.session/1"] = FORMAT
    head: SessionHead
    messages: list[Message]
    chunk_bounds: list[tuple[int, int]]
    archived_at: str

    def encode(self) -> bytes:
        # mtime=0: the same session always compresses to the same bytes.
        return gzip.compress(self.model_dump_json().encode(), compresslevel=6, mtime=0)

    @classmethod
    def decode(cls, data: bytes) -> ArchivedSession:
        return cls.model_validate_json(gzip.decompress(data))

    @classmethod
    def of(
        cls, head: SessionHead, messages: list[Message], chunk_bounds: list[tuple[int, int]]
    ) -> ArchivedSession:
        return cls(head=head, messages=messages, chunk_bounds=chunk_bounds, archived_at=utc_now())


def archive_key(head: SessionHead, frozen_at: str) -> str:
    """One object per archiving, named for the moment it froze the session: a later archive of the
    same session never overwrites an earlier one, an upload run again writes the same object."""
    stamp = frozen_at.replace(":", "").replace("-", "").replace("+0000", "Z")
    return f"sessions/{head.world_id}/{head.session_id}/{stamp}.json.gz"


class ArchiveMissing(LookupError):
    """The archive object is gone (a finished rehydration discarded it)."""


class SessionArchive(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
