"""The console's routes (aicore.local.console): the page, and the TypeScript client bundle it loads,
or, when that is not built, a message that says how to build it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from aicore.local.console import CLIENT_PATH, console_routes


def _get(routes: list[web.RouteDef], path: str) -> web.Response:
    route = next(r for r in routes if r.path == path)
    response: web.StreamResponse = asyncio.run(route.handler(make_mocked_request("GET", path)))  # type: ignore[arg-type]
    assert isinstance(response, web.Response)
    return response


def test_the_page_carries_its_token_and_loads_the_typescript_client() -> None:
    page = _get(console_routes("tok.en.x"), "/")
    assert page.text is not None
    assert '|| "tok.en.x"' in page.text
    assert f'CLIENT_URL = "{CLIENT_PATH}"' in page.text
    assert 'encoding: "protobuf"' in page.text


def test_the_bundle_is_served_as_javascript(tmp_path: Path) -> None:
    bundle = tmp_path / "aicore-client.js"
    bundle.write_text("export const built = true;\n")
    (tmp_path / "aicore-client.js.map").write_text("{}")

    served = _get(console_routes("t", bundle), CLIENT_PATH)
    source_map = _get(console_routes("t", bundle), CLIENT_PATH + ".map")

    assert served.status == 200
    assert served.content_type == "text/javascript"
    assert served.body == b"export const built = true;\n"
    assert source_map.status == 200
    assert source_map.content_type == "application/json"


def test_a_missing_bundle_says_how_to_build_it(tmp_path: Path) -> None:
    missing = _get(console_routes("t", tmp_path / "aicore-client.js"), CLIENT_PATH)
    assert missing.status == 404
    assert missing.text is not None
    assert "make setup" in missing.text
    # and the page, which cannot load it, says so in its status line rather than staying blank
    page = _get(console_routes("t", tmp_path / "aicore-client.js"), "/")
    assert page.text is not None
    assert "not built: run make setup" in page.text
