"""The HTTP API on loopback: payload format 2.0 events, the Lambda authorizer, API Gateway's answers."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from aicore.local.apigw_events import (
    HTTP_STAGE,
    Api,
    HttpRequest,
    Invoke,
    MalformedAnswer,
    http_authorizer_event,
    http_proxy_event,
    http_response_from_answer,
    simple_authorizer_decision,
)
from aicore.local.http_routes import RouteMatch, RouteTable
from aicore.topology import Function, Topology

log = logging.getLogger(__name__)

HTTP_API_ID = "aicorehttp"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's HTTP API payload limit


class Rejected(Exception):
    """API Gateway answers the client itself, without (or instead of) the route's handler."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self, request_id: str) -> web.Response:
        return web.json_response(
            {"message": self.message}, status=self.status, headers={"apigw-requestid": request_id}
        )


NOT_FOUND = (404, "Not Found")
UNAUTHORIZED = (401, "Unauthorized")
FORBIDDEN = (403, "Forbidden")
INTERNAL_ERROR = (500, "Internal Server Error")


async def read_http_request(request: web.Request) -> HttpRequest:
    version = request.version
    return HttpRequest(
        method=request.method,
        raw_path=request.rel_url.raw_path,
        raw_query=request.rel_url.raw_query_string,
        headers=list(request.headers.items()),
        source_ip=request.remote or "127.0.0.1",
        domain_name=request.host,
        body=await request.read(),
        protocol=f"HTTP/{version.major}.{version.minor}",
    )


class HttpApi:
    """One HTTP API: the topology's routes behind the Lambda authorizer."""

    def __init__(self, topology: Topology, invoke: Invoke) -> None:
        self._topology = topology
        self._invoke = invoke
        self._routes = RouteTable(topology.http_routes)
        self.api = Api(HTTP_API_ID, HTTP_STAGE)

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """A catch-all: add it after every other route of the server."""
        router.add_route("*", "/{path:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        http_request = await read_http_request(request)
        try:
            return await self._answer(http_request)
        except Rejected as rejection:
            return rejection.response(http_request.request_id)

    async def _answer(self, request: HttpRequest) -> web.Response:
        match = self._routes.resolve(request.method, request.raw_path)
        if match is None:
            raise Rejected(*NOT_FOUND)
        authorizer_context = await self._authorize(request, match) if match.route.authorized else None
        event = http_proxy_event(
            self.api, request, match.route_key, match.path_parameters, authorizer_context
        )
        try:
            response = http_response_from_answer(await self._invoke(match.target.name, event))
        except Exception:
            log.exception("HTTP route %s (%s) failed", match.route_key, match.target.name)
            raise Rejected(*INTERNAL_ERROR) from None
        headers = CIMultiDict(response.headers)
        headers.setdefault("apigw-requestid", request.request_id)
        return web.Response(status=response.status, headers=headers, body=response.body)

    async def _authorize(self, request: HttpRequest, match: RouteMatch[Function]) -> dict[str, Any]:
        if not request.header("authorization"):
            raise Rejected(*UNAUTHORIZED)
        event = http_authorizer_event(self.api, request, match.route_key, match.path_parameters)
        try:
            answer = await self._invoke(self._topology.authorizer.name, event)
        except Exception as exc:
            log.info("Authorizer refused %s %s: %r", request.method, request.raw_path, exc)
            raise Rejected(*UNAUTHORIZED) from None
        try:
            authorized, context = simple_authorizer_decision(answer)
        except MalformedAnswer:
            log.exception("Authorizer answered something API Gateway cannot use")
            raise Rejected(*INTERNAL_ERROR) from None
        if not authorized:
            raise Rejected(*FORBIDDEN)
        return context
