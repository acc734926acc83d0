"""The dev console page at `/`: talk to the demo world's NPCs from a browser."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

PAGE = Path(__file__).with_name("console.html")


def console_routes(token: str) -> list[web.RouteDef]:
    """`GET /` serves the page with a ready local token (override with `?token=`)."""
    html = PAGE.read_text().replace("__TOKEN__", token)

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    return [web.get("/", page)]
