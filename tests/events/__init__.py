"""Shared event fixtures: `load_event("ws_message", body=...)`."""

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


def load_event(name: str, **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((HERE / f"{name}.json").read_text())
    event.update(overrides)
    return event
