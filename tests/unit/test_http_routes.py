"""HTTP API route matching: API Gateway's path templates and its most-specific-route rule."""

from __future__ import annotations

import string
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicore.local.http_routes import RouteTable, Segment, SegmentKind, match_path, parse_path_template
from aicore.topology import HttpRoute

literals = st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=10)
parameter_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
values = st.text(min_size=1, max_size=12)


@st.composite
def templates_with_values(draw: st.DrawFn) -> tuple[str, str, dict[str, str]]:
    """A path template, a request path that fits it, and the parameters that path carries."""
    kinds = draw(st.lists(st.sampled_from(["literal", "parameter"]), max_size=5))
    greedy = draw(st.booleans())
    names = draw(st.lists(parameter_names, min_size=len(kinds) + 1, max_size=len(kinds) + 1, unique=True))
    template_parts: list[str] = []
    path_parts: list[str] = []
    expected: dict[str, str] = {}
    for kind, name in zip(kinds, names, strict=False):
        if kind == "literal":
            literal = draw(literals)
            template_parts.append(literal)
            path_parts.append(literal)
        else:
            value = draw(values)
            template_parts.append("{" + name + "}")
            path_parts.append(quote(value, safe=""))
            expected[name] = value
    if greedy or not kinds:
        rest = draw(st.lists(values, min_size=1, max_size=4))
        template_parts.append("{" + names[-1] + "+}")
        path_parts.append("/".join(quote(part, safe="") for part in rest))
        expected[names[-1]] = "/".join(rest)
    return "/" + "/".join(template_parts), "/" + "/".join(path_parts), expected


def target(table: RouteTable[str], method: str, path: str) -> str | None:
    match = table.resolve(method, path)
    return None if match is None else match.target


@given(templates_with_values())
def test_a_path_rendered_from_a_template_matches_it_with_its_parameters(
    case: tuple[str, str, dict[str, str]],
) -> None:
    template, path, expected = case

    assert match_path(parse_path_template(template), path) == expected


@given(templates_with_values(), st.text(max_size=60))
def test_matching_any_text_never_raises(case: tuple[str, str, dict[str, str]], path: str) -> None:
    result = match_path(parse_path_template(case[0]), path)

    assert result is None or isinstance(result, dict)


@given(st.lists(literals, min_size=1, max_size=4), literals)
def test_a_path_with_an_extra_segment_does_not_match_a_template_without_greedy_variable(
    parts: list[str], extra: str
) -> None:
    template = "/" + "/".join(parts)

    assert match_path(parse_path_template(template), f"{template}/{extra}") is None


@given(literals, literals)
def test_a_literal_route_beats_a_parameter_route(literal: str, other: str) -> None:
    table = RouteTable(
        [(HttpRoute("GET", "/npcs/{id}"), "by id"), (HttpRoute("GET", f"/npcs/{literal}"), "literal")]
    )

    assert target(table, "GET", f"/npcs/{literal}") == "literal"
    assert target(table, "GET", f"/npcs/{other}") == ("literal" if other == literal else "by id")


def test_parameter_beats_greedy_and_explicit_method_beats_any() -> None:
    table = RouteTable(
        [
            (HttpRoute("ANY", "/a/{proxy+}"), "greedy"),
            (HttpRoute("ANY", "/a/{id}"), "any id"),
            (HttpRoute("GET", "/a/{id}"), "get id"),
        ]
    )

    assert target(table, "GET", "/a/1") == "get id"
    assert target(table, "PUT", "/a/1") == "any id"
    assert target(table, "GET", "/a/1/2") == "greedy"


def test_default_route_catches_what_nothing_else_matched() -> None:
    table = RouteTable([(HttpRoute("GET", "/a"), "a"), (HttpRoute("ANY", "$default"), "default")])

    default = table.resolve("POST", "/anything/else")

    assert default is not None
    assert (default.target, default.route_key, default.path_parameters) == ("default", "$default", {})
    assert target(table, "GET", "/a") == "a"


def test_method_must_match_and_greedy_needs_at_least_one_segment() -> None:
    table = RouteTable([(HttpRoute("GET", "/files/{proxy+}"), "files")])

    assert target(table, "GET", "/files/x") == "files"
    assert target(table, "POST", "/files/x") is None
    assert target(table, "GET", "/files/") is None
    assert target(table, "GET", "/files") is None


def test_parameters_are_percent_decoded_and_do_not_span_segments() -> None:
    segments = parse_path_template("/sessions/{id}")

    assert match_path(segments, "/sessions/a%2Fb") == {"id": "a/b"}
    assert match_path(segments, "/sessions/a/b") is None
    assert match_path(segments, "/sessions/") is None


def test_templates_are_parsed_into_typed_segments() -> None:
    assert parse_path_template("/a/{b}/{c+}") == (
        Segment(SegmentKind.LITERAL, "a"),
        Segment(SegmentKind.PARAMETER, "b"),
        Segment(SegmentKind.GREEDY, "c"),
    )


@pytest.mark.parametrize("template", ["no-slash", "/{proxy+}/tail", "/a/{b", "/a/x{b}"])
def test_malformed_templates_are_refused(template: str) -> None:
    with pytest.raises(ValueError, match="path"):
        parse_path_template(template)
