"""A slow turn can be read from one trace: its steps and each tier's attempt are subsegments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aws_xray_sdk import global_sdk_config
from aws_xray_sdk.core import xray_recorder

from tests.npc_turns import say, turn_deps


class KeptEmitter:
    """Keeps what the recorder would send to the X-Ray daemon (unit tests have no network)."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send_entity(self, entity: Any) -> None:
        self.sent.append(entity)

    def set_daemon_address(self, address: str | None) -> None:
        pass

    @property
    def ip(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        return 2000


@pytest.fixture
def segment() -> Iterator[Any]:
    was_enabled = global_sdk_config.sdk_enabled()
    emitter = getattr(xray_recorder, "_emitter", None)
    global_sdk_config.set_sdk_enabled(True)
    xray_recorder.configure(
        emitter=KeptEmitter(), sampling=False, context_missing="LOG_ERROR", streaming_threshold=1000
    )
    segment = xray_recorder.begin_segment("npc-say")
    try:
        yield segment
    finally:
        xray_recorder.clear_trace_entities()
        if emitter is not None:
            xray_recorder.configure(emitter=emitter)
        global_sdk_config.set_sdk_enabled(was_enabled)


def _names(entity: Any) -> list[str]:
    return [name for sub in entity.subsegments for name in (sub.name, *_names(sub))]


def test_a_turn_is_traced_step_by_step(segment: Any) -> None:
    say(turn_deps())
    names = _names(segment)
    steps = ["turn.read", "turn.store_player_line", "turn.model", "turn.store_reply", "turn.publish"]
    assert [n for n in names if n in steps] == steps
    assert "router.attempt" in names
    attempt = next(s for s in _walk(segment) if s.name == "router.attempt")
    assert attempt.annotations == {"tier": "gold", "outcome": "answered"}


def _walk(entity: Any) -> Iterator[Any]:
    for sub in entity.subsegments:
        yield sub
        yield from _walk(sub)
