"""Settings through the real settings-api handler over fakes: If-Match versions (428, 409 with the
current version), who writes what, the audit trail, and a change reaching a running npc-say within
the cache's bound (the cache's clock is moved, nothing sleeps)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aicore.auth import Caller, Role
from aicore.platform.settings import GLOBAL_SCOPE, SETTINGS_CACHE_S, SettingsCache
from tests.edge_calls import ADMIN, PLAYER, STUDIO, HttpEdge, Reply
from tests.fakes import ScriptedEndpoint
from tests.npc_turns import say, turn_deps
from tests.platform_fakes import roomy_settings

OTHER_STUDIO = Caller(subject="rival", world_id="elsewhere", roles=(Role.STUDIO,))


def _edge() -> HttpEdge:
    """The handlers over fakes, with no settings stored yet."""
    edge = HttpEdge()
    edge.settings.documents.clear()
    return edge


def _put(edge: HttpEdge, path: str, body: Any, if_match: str | None, caller: Caller) -> Reply:
    headers = {} if if_match is None else {"if-match": if_match}
    return edge.call("PUT", path, body=json.dumps(body).encode(), headers=headers, caller=caller)


def test_a_world_document_is_created_at_0_and_changed_from_the_version_read() -> None:
    edge = _edge()
    created = _put(edge, "/worlds/demo/settings", {"performance_mode": "fast"}, "0", STUDIO)
    changed = _put(edge, "/worlds/demo/settings", {"performance_mode": "quality"}, '"1"', STUDIO)
    read = edge.call("GET", "/worlds/demo/settings", caller=STUDIO)

    assert (created.status, created.body["data"]["version"]) == (200, 1)
    assert (changed.status, changed.body["data"]["version"]) == (200, 2)
    data = read.body["data"]
    assert (data["version"], data["settings"]["performance_mode"], data["updated_by"]) == (
        2,
        "quality",
        "tools",
    )
    # unset fields inherit the global values
    assert data["effective"]["limits"]["player"] == {"per_minute": 30, "burst": 10}


def test_a_write_without_if_match_is_428_and_a_bad_one_400() -> None:
    edge = _edge()
    missing = _put(edge, "/settings", {}, None, ADMIN)
    bad = _put(edge, "/settings", {}, "latest", ADMIN)
    assert (missing.status, missing.body["error"]["code"]) == (428, "precondition_required")
    assert (bad.status, bad.body["error"]["code"]) == (400, "invalid_request")


def test_concurrent_edits_one_wins_the_others_get_409_with_the_current_version() -> None:
    # Given the global settings at version 1, and 20 admins who all read them there
    edge = _edge()
    assert _put(edge, "/settings", {}, "0", ADMIN).status == 200
    # When they all change them at once
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(
            pool.map(lambda i: _put(edge, "/settings", {"token_frame_interval_ms": i}, "1", ADMIN), range(20))
        )
    # Then exactly one wins; each other gets 409 naming version 2; one audit entry per accepted write
    assert sorted(r.status for r in replies) == [200] + [409] * 19
    assert {r.body["error"]["details"]["current_version"] for r in replies if r.status == 409} == {2}
    assert [e.version for e in edge.settings.entries[GLOBAL_SCOPE]] == [1, 2]


def test_admins_write_global_settings_studios_their_own_world_players_neither() -> None:
    edge = _edge()
    assert _put(edge, "/settings", {}, "0", STUDIO).status == 403
    assert _put(edge, "/worlds/demo/settings", {}, "0", PLAYER).status == 403
    assert _put(edge, "/worlds/demo/settings", {}, "0", OTHER_STUDIO).status == 403
    assert edge.call("GET", "/settings", caller=PLAYER).status == 403
    assert edge.call("GET", "/worlds/demo/settings/audit", caller=PLAYER).status == 403
    assert _put(edge, "/worlds/demo/settings", {}, "0", ADMIN).status == 200


def test_settings_are_typed_and_bounded() -> None:
    edge = _edge()
    too_fast = {"limits": {"player": {"per_minute": 100_000, "burst": 1}}}
    bodies: tuple[dict[str, Any], ...] = (
        {"performance_mode": "turbo"},
        too_fast,
        {"surprise": 1},
        {"clients": {"platforms": {"Unity!": {}}}},
    )
    for body in bodies:
        reply = _put(edge, "/settings", body, "0", ADMIN)
        assert (reply.status, reply.body["error"]["code"]) == (400, "invalid_request")
        assert "100000" not in json.dumps(reply.body)
        assert "turbo" not in json.dumps(reply.body)


def test_the_audit_says_who_changed_what_and_when_newest_first() -> None:
    edge = _edge()
    _put(edge, "/worlds/demo/settings", {"performance_mode": "fast"}, "0", STUDIO)
    limits = {"player": {"per_minute": 10, "burst": 2}, "connection": {"per_minute": 5, "burst": 1}}
    _put(edge, "/worlds/demo/settings", {"performance_mode": "fast", "limits": limits}, "1", ADMIN)
    limits["player"]["per_minute"] = 12
    _put(edge, "/worlds/demo/settings", {"performance_mode": "fast", "limits": limits}, "2", STUDIO)

    entries = edge.call("GET", "/worlds/demo/settings/audit", caller=STUDIO).body["data"]

    assert [(e["version"], e["changed_by"]) for e in entries] == [(3, "tools"), (2, "root"), (1, "tools")]
    assert entries[0]["changes"] == [{"field": "limits.player.per_minute", "before": 10, "after": 12}]
    assert entries[1]["changes"] == [
        {"field": "limits", "before": None, "after": limits | {"player": {"per_minute": 10, "burst": 2}}}
    ]
    assert entries[2]["changes"] == [{"field": "performance_mode", "before": None, "after": "fast"}]
    assert entries[0]["changed_at"]


class Seconds:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def test_a_change_reaches_a_running_turn_handler_within_the_cache_bound() -> None:
    # Given a running npc-say container whose settings cache has read the world's settings
    edge, seconds, endpoint = _edge(), Seconds(), ScriptedEndpoint()
    edge.settings.documents |= roomy_settings().documents
    deps = turn_deps(endpoint=endpoint, settings=edge.settings)
    deps.settings = SettingsCache(edge.settings, clock=seconds)
    assert _reply(say(deps))["mode"] == "balanced"
    # When the studio changes the world's performance mode
    assert _put(edge, "/worlds/demo/settings", {"performance_mode": "quality"}, "0", STUDIO).status == 200
    # Then the container keeps its copy until it is SETTINGS_CACHE_S old, and not a moment longer
    seconds.value += SETTINGS_CACHE_S - 0.001
    assert _reply(say(deps))["mode"] == "balanced"
    seconds.value += 0.001
    assert _reply(say(deps))["mode"] == "quality"


def test_the_cache_reads_the_world_and_the_global_document_in_one_round_trip() -> None:
    store = roomy_settings()
    cache = SettingsCache(store, clock=Seconds())
    for _ in range(5):
        cache.for_world("demo")
    assert store.reads == 1


def _reply(pusher: Any) -> dict[str, Any]:
    reply = pusher.of_type("npc.reply")[-1]
    data: dict[str, Any] = reply["data"]
    return data
