"""The Hugging Face hub, read at one pinned commit: which files a revision has, and their bytes.

Only the model import flow talks to the hub (a serving container never does: it runs with
network isolation and reads the staged copy). `HttpHub` uses the hub's public HTTP API:
`GET /api/models/<id>/revision/<commit>?blobs=true` lists the files with their sizes, git blob
ids and, for LFS files, SHA-256; `GET /<id>/resolve/<commit>/<path>` returns a file's bytes.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import IO, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aicore.errors import AicoreError
from aicore.llm.endpoints_config import ModelSource

DEFAULT_HUB_URL = "https://huggingface.co"


class HubError(AicoreError):
    """The hub does not have what the import asks for, or answered something unusable."""


class HubUnavailable(HubError):
    """The hub answered 429 or 5xx: worth trying again (the import flow's ASL retries it)."""


def _refused(what: str, code: int) -> HubError:
    kind = HubUnavailable if code == 429 or code >= 500 else HubError
    return kind(f"The hub refused {what} (HTTP {code}).")


class HubFile(BaseModel):
    """One file of a revision; `sha256` only for files stored in git LFS (the weights)."""

    model_config = ConfigDict(frozen=True)

    path: str = Field(min_length=1, max_length=512)
    size: int = Field(ge=0)
    git_blob: str = Field(pattern=r"^[0-9a-f]{40}$")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @field_validator("path")
    @classmethod
    def _stays_inside(cls, path: str) -> str:
        """SageMaker turns keys under the prefix into paths in /opt/ml/model: none may climb out."""
        parts = path.split("/")
        if path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"{path!r} is not a plain relative path")
        return path


class HubSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True)

    commit: str
    files: list[HubFile]


class ModelHub(Protocol):
    def snapshot(self, model: ModelSource) -> HubSnapshot:
        """The files of `model` at its pinned revision; `HubError` if the hub has no such revision."""
        ...

    def open(self, model: ModelSource, path: str) -> AbstractContextManager[IO[bytes]]:
        """A readable binary stream of one file at the pinned revision (`HubError` if refused)."""
        ...


class _Sibling(BaseModel):
    model_config = ConfigDict(extra="ignore")

    rfilename: str
    size: int | None = None
    blobId: str | None = None  # noqa: N815 (the hub's field name)
    lfs: dict[str, object] | None = None


class _Revision(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sha: str
    siblings: list[_Sibling]


class HttpHub:
    """`ModelHub` over the hub's HTTP API (stdlib only: the import function needs nothing more)."""

    def __init__(self, base_url: str = DEFAULT_HUB_URL, timeout_s: float = 60.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout_s

    def snapshot(self, model: ModelSource) -> HubSnapshot:
        url = f"{self._base}/api/models/{_quote(model.hf_model_id)}/revision/{model.revision}?blobs=true"
        try:
            with urllib.request.urlopen(url, timeout=self._timeout) as response:
                revision = _Revision.model_validate(json.loads(response.read()))
        except urllib.error.HTTPError as error:
            if error.code == 429 or error.code >= 500:
                raise _refused(f"the file list of {model.hf_model_id}", error.code) from None
            raise HubError(
                f"The hub has no revision {model.revision} of {model.hf_model_id} (HTTP {error.code}): "
                "check the model id and the pinned commit.",
                {"hf_model_id": model.hf_model_id, "revision": model.revision},
            ) from None
        except (OSError, ValueError, ValidationError) as error:
            raise HubError(
                f"The hub's file list for {model.hf_model_id} could not be read: {error}"
            ) from None
        try:
            return HubSnapshot(commit=revision.sha, files=[_file(s) for s in revision.siblings])
        except ValidationError as error:
            raise HubError(f"The hub listed a file the import will not stage: {error}") from None

    @contextmanager
    def open(self, model: ModelSource, path: str) -> Iterator[IO[bytes]]:
        url = f"{self._base}/{_quote(model.hf_model_id)}/resolve/{model.revision}/{_quote(path)}"
        try:
            response = urllib.request.urlopen(url, timeout=self._timeout)
        except urllib.error.HTTPError as error:
            raise _refused(f"{path} of {model.hf_model_id}", error.code) from None
        with response:
            yield response


def _file(sibling: _Sibling) -> HubFile:
    if sibling.size is None or sibling.blobId is None:
        raise HubError(
            f"The hub listed {sibling.rfilename} without its size and blob id (ask with blobs=true)."
        )
    sha256 = sibling.lfs.get("sha256") if sibling.lfs else None
    return HubFile(
        path=sibling.rfilename,
        size=sibling.size,
        git_blob=sibling.blobId,
        sha256=str(sha256) if sha256 else None,
    )


def _quote(path: str) -> str:
    return urllib.parse.quote(path, safe="/")
