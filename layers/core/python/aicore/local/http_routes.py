"""HTTP API route matching: API Gateway path templates (`/sessions/{id}`, `/files/{proxy+}`).

The most specific route wins, as in API Gateway: segment by segment a literal beats a
`{param}`, which beats a greedy `{proxy+}`; a route with an explicit method beats `ANY`;
a `$default` route catches whatever nothing else matched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Generic, TypeVar
from urllib.parse import unquote

from aicore.topology import HttpRoute

Target = TypeVar("Target")

DEFAULT_ROUTE = "$default"
ANY_METHOD = "ANY"
_VARIABLE = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")


class SegmentKind(IntEnum):
    """Ordered by precedence: lower wins."""

    LITERAL = 0
    PARAMETER = 1
    GREEDY = 2


@dataclass(frozen=True)
class Segment:
    kind: SegmentKind
    text: str  # the literal, or the parameter's name


def parse_path_template(template: str) -> tuple[Segment, ...]:
    """`/a/{b}/{c+}` -> its segments; a greedy variable may only be last."""
    if not template.startswith("/"):
        raise ValueError(f"route path must start with '/': {template!r}")
    segments = tuple(_parse_segment(part) for part in template[1:].split("/"))
    if any(s.kind is SegmentKind.GREEDY for s in segments[:-1]):
        raise ValueError(f"a greedy path variable must be the last segment: {template!r}")
    return segments


def _parse_segment(part: str) -> Segment:
    variable = _VARIABLE.match(part)
    if variable is None:
        if "{" in part or "}" in part:
            raise ValueError(f"malformed path variable: {part!r}")
        return Segment(SegmentKind.LITERAL, part)
    name, greedy = variable.groups()
    return Segment(SegmentKind.GREEDY if greedy else SegmentKind.PARAMETER, name)


def match_path(segments: tuple[Segment, ...], raw_path: str) -> dict[str, str] | None:
    """Path parameters (percent-decoded) if the raw request path fits the template, else None."""
    parts = raw_path[1:].split("/") if raw_path.startswith("/") else None
    if parts is None:
        return None
    parameters: dict[str, str] = {}
    for index, segment in enumerate(segments):
        if segment.kind is SegmentKind.GREEDY:
            rest = "/".join(parts[index:])
            if not rest:
                return None
            parameters[segment.text] = unquote(rest)
            return parameters
        if index >= len(parts) or not _segment_fits(segment, parts[index], parameters):
            return None
    return parameters if len(parts) == len(segments) else None


def _segment_fits(segment: Segment, part: str, parameters: dict[str, str]) -> bool:
    if segment.kind is SegmentKind.LITERAL:
        return unquote(part) == segment.text
    if not part:
        return False
    parameters[segment.text] = unquote(part)
    return True


@dataclass(frozen=True)
class RouteMatch(Generic[Target]):
    route: HttpRoute
    target: Target
    path_parameters: dict[str, str]

    @property
    def route_key(self) -> str:
        """`GET /sessions/{id}`, or `$default` for the catch-all route."""
        return DEFAULT_ROUTE if self.route.path == DEFAULT_ROUTE else self.route.route_key


@dataclass(frozen=True)
class _CompiledRoute(Generic[Target]):
    route: HttpRoute
    target: Target
    segments: tuple[Segment, ...]

    @property
    def is_default(self) -> bool:
        return self.route.path == DEFAULT_ROUTE

    def precedence(self) -> tuple[tuple[int, ...], int]:
        return tuple(s.kind for s in self.segments), int(self.route.method.upper() == ANY_METHOD)

    def accepts(self, method: str) -> bool:
        wanted = self.route.method.upper()
        return wanted in (method.upper(), ANY_METHOD)


class RouteTable(Generic[Target]):
    """Resolves a request (method, raw path) to the one route API Gateway would pick."""

    def __init__(self, routes: Iterable[tuple[HttpRoute, Target]]) -> None:
        self._routes = [
            _CompiledRoute(
                route, target, () if route.path == DEFAULT_ROUTE else parse_path_template(route.path)
            )
            for route, target in routes
        ]

    def resolve(self, method: str, raw_path: str) -> RouteMatch[Target] | None:
        candidates = [
            (compiled, parameters)
            for compiled in self._routes
            if not compiled.is_default and compiled.accepts(method)
            for parameters in [match_path(compiled.segments, raw_path)]
            if parameters is not None
        ]
        if candidates:
            best, parameters = min(candidates, key=lambda candidate: candidate[0].precedence())
            return RouteMatch(best.route, best.target, parameters)
        default = next((c for c in self._routes if c.is_default), None)
        return None if default is None else RouteMatch(default.route, default.target, {})
