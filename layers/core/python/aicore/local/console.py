"""The dev console page at `/`: talk to the demo world's NPCs from a browser.

The page speaks the binary protocol (`aicore.proto.v1`) through the TypeScript client
(clients/typescript), whose bundle `make setup` builds into `clients/typescript/dist/` of this
checkout (aicore.local runs from a checkout only: the Lambda layer leaves it out). Without the
bundle the page says how to build it; so does the bundle's URL.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

PAGE = Path(__file__).with_name("console.html")
CLIENT_BUNDLE = Path(__file__).resolve().parents[5] / "clients" / "typescript" / "dist" / "aicore-client.js"
CLIENT_PATH = "/console/aicore-client.js"
BUNDLE_MISSING = (
    "The console's TypeScript client is not built: run `make setup` (it builds clients/typescript "
    "into clients/typescript/dist/), then reload the page."
)


def console_routes(token: str, bundle: Path = CLIENT_BUNDLE) -> list[web.RouteDef]:
    """`GET /` serves the page with a ready local token (override with `?token=`);
    `GET /console/aicore-client.js` (and its source map) the client it loads."""
    html = PAGE.read_text().replace("__TOKEN__", token)

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    def serve(path: Path, content_type: str) -> web.RouteDef:
        async def handler(_: web.Request) -> web.StreamResponse:
            if not path.is_file():  # read per request: a `make setup` while running needs no restart
                return web.Response(status=404, text=BUNDLE_MISSING, content_type="text/plain")
            headers = {"Cache-Control": "no-cache"}
            return web.Response(body=path.read_bytes(), content_type=content_type, headers=headers)

        return web.get(CLIENT_PATH if path == bundle else CLIENT_PATH + ".map", handler)

    return [
        web.get("/", page),
        serve(bundle, "text/javascript"),
        serve(bundle.with_name(bundle.name + ".map"), "application/json"),
    ]
