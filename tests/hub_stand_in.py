"""A stand-in for the Hugging Face hub's HTTP API on loopback, for the import flow's real code path.

`GET /api/models/<owner>/<name>/revision/<commit>?blobs=true` lists a revision's files (as the
hub does: size, git blob id, LFS SHA-256 for weights); `GET /<owner>/<name>/resolve/<commit>/<path>`
serves a file, redirecting weights to a CDN path first, as the hub does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from aiohttp import web

from aicore.llm.endpoints_config import ModelSource
from aicore.local.server_thread import AppServer, ServerThread
from tests.model_fakes import FakeHub


class HubStandIn:
    def __init__(self) -> None:
        self.hub = FakeHub()
        self.downloads: list[str] = []
        self._blobs: dict[str, bytes] = {}

    def add(self, model: ModelSource, files: Mapping[str, bytes]) -> None:
        self.hub.add(model, files)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/models/{owner}/{name}/revision/{revision}", self._revision)
        app.router.add_get("/cdn/{sha256}", self._blob)
        app.router.add_get("/{owner}/{name}/resolve/{revision}/{path:.+}", self._resolve)
        return app

    def _model(self, request: web.Request) -> ModelSource:
        info = request.match_info
        return ModelSource(hf_model_id=f"{info['owner']}/{info['name']}", revision=info["revision"])

    async def _revision(self, request: web.Request) -> web.Response:
        model = self._model(request)
        if (model.hf_model_id, model.revision) not in self.hub.repos or request.query.get("blobs") != "true":
            return web.json_response({"error": "Revision Not Found"}, status=404)
        snapshot = self.hub.snapshot(model)
        siblings = [
            {
                "rfilename": f.path,
                "size": f.size,
                "blobId": f.git_blob,
                **({"lfs": {"sha256": f.sha256, "size": f.size, "pointerSize": 134}} if f.sha256 else {}),
            }
            for f in snapshot.files
        ]
        return web.json_response({"id": model.hf_model_id, "sha": snapshot.commit, "siblings": siblings})

    async def _resolve(self, request: web.Request) -> web.StreamResponse:
        model = self._model(request)
        path = request.match_info["path"]
        files = self.hub.repos.get((model.hf_model_id, model.revision), {})
        if path not in files:
            return web.json_response({"error": "Entry not found"}, status=404)
        self.downloads.append(path)
        content = files[path] + (b"!" if path in self.hub.corrupt else b"")
        if path.endswith(".safetensors"):  # LFS files come from the CDN, through a redirect
            key = f"{len(self._blobs)}"
            self._blobs[key] = content
            raise web.HTTPFound(f"/cdn/{key}")
        return web.Response(body=content)

    async def _blob(self, request: web.Request) -> web.Response:
        return web.Response(body=self._blobs[request.match_info["sha256"]])


@contextmanager
def hub_stand_in() -> Iterator[tuple[str, HubStandIn]]:
    """A running stand-in and its URL (give it to the import function as MODEL_HUB_URL)."""
    stand_in = HubStandIn()
    thread = ServerThread(AppServer(stand_in.app()), name="hub-stand-in")
    url = thread.start()
    try:
        yield url, stand_in
    finally:
        thread.stop()
